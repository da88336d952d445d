"""Integration connections: a workspace's credentials for one provider (DESIGN.md §5)."""

import json

from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from fernet_fields import EncryptedTextField

from workspaces.models import ActorStampedModel, WorkspaceOwnedQuerySet, slug_validator

from .providers import PROVIDERS


def mask_secret(value: str | None) -> str:
    """A hint that identifies a secret without revealing it: `sk-…a1b2`.

    Short values show nothing but the ellipsis: four characters of an eight-character
    key would be half of it.
    """
    if not value:
        return ""
    if len(value) < 12:
        return "…"
    return f"{value[:3]}…{value[-4:]}"


class PendingStatus(models.TextChoices):
    NONE = "", "None"
    CHECKING = "checking", "Checking"
    REJECTED = "rejected", "Rejected"


class IntegrationConnection(ActorStampedModel):
    class Status(models.TextChoices):
        CHECKING = "checking", "Checking"
        VALID = "valid", "Valid"
        INVALID = "invalid", "Invalid"

    PendingStatus = PendingStatus

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="integration_connections"
    )
    name = models.CharField(max_length=49, validators=[slug_validator])
    display_name = models.CharField(max_length=100, blank=True)
    integration = models.CharField(
        max_length=40,
        choices=[(provider.id, provider.display_name) for provider in PROVIDERS.values()],
    )
    config = models.JSONField(default=dict, blank=True)
    # JSON object of the provider's secret fields, Fernet-encrypted at rest.
    secret = EncryptedTextField()
    secret_hint = models.CharField(max_length=32, blank=True)
    # Bumped whenever what the provider sees changes (the key, or the upstream settings):
    # catalog cache keys and in-flight validation results are tied to it.
    secret_version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKING)
    status_message = models.CharField(max_length=500, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    # Provider unreachable: consecutive failed checks and when to try again (backoff).
    check_attempts = models.PositiveSmallIntegerField(default=0)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A replacement key waits here, encrypted, until the provider accepts it; meanwhile the
    # stored `secret` keeps serving. `pending_version` ties a check to the key it checks.
    pending_secret = EncryptedTextField(null=True, blank=True)
    pending_secret_hint = models.CharField(max_length=32, blank=True)
    pending_status = models.CharField(max_length=16, choices=PendingStatus.choices, blank=True)
    pending_message = models.CharField(max_length=500, blank=True)
    pending_version = models.PositiveIntegerField(default=0)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_connection_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.integration}:{self.name}"

    def __repr__(self) -> str:
        # Never the secret, even in a debugger or a traceback.
        return f"<IntegrationConnection {self.pk} {self}>"

    @property
    def provider(self):
        return PROVIDERS[self.integration]

    @property
    def secret_values(self) -> dict:
        return json.loads(self.secret) if self.secret else {}

    @property
    def masked_secret(self) -> dict[str, str]:
        """Every secret field of the provider, masked (an unset one is "")."""
        values = self.secret_values
        return {
            item.name: mask_secret(values.get(item.name)) for item in self.provider.secret_fields
        }

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def base_url(self) -> str:
        return self.provider.base_url(self.config)

    @property
    def pending_secret_values(self) -> dict:
        return json.loads(self.pending_secret) if self.pending_secret else {}

    @property
    def is_usable(self) -> bool:
        """Whether a model API may start using it: its key was not refused (a connection
        still being checked may; its model APIs wait for the outcome)."""
        return self.status != self.Status.INVALID

    @property
    def is_unreachable(self) -> bool:
        return self.status == self.Status.INVALID and self.next_check_at is not None


def encrypted_fields():
    return [
        field
        for model in (IntegrationConnection,)
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def reset_encryption_keys() -> None:
    """fernet_fields caches the keys on each field the first time it is used; forget
    them so a changed `FERNET_KEYS` takes effect in this process."""
    for field in encrypted_fields():
        for cached in ("keys", "fernet_keys", "fernet"):
            field.__dict__.pop(cached, None)


@receiver(setting_changed)
def _on_setting_changed(*, setting, **kwargs):
    if setting in ("FERNET_KEYS", "FERNET_USE_HKDF"):
        reset_encryption_keys()
    if setting == "UPSTREAM_ALLOWED_HOSTS":
        from . import ssrf

        ssrf.clear_call_time_cache()
