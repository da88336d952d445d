"""Integration connections: a workspace's credentials for one provider (DESIGN.md §5)."""

import json

from django.conf import settings
from django.db import models
from django.utils import timezone
from fernet_fields import EncryptedTextField

from workspaces.models import WorkspaceOwnedQuerySet, slug_validator

from .providers import PROVIDERS


class IntegrationConnection(models.Model):
    class Status(models.TextChoices):
        CHECKING = "checking", "Checking"
        VALID = "valid", "Valid"
        INVALID = "invalid", "Invalid"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="integration_connections"
    )
    name = models.CharField(max_length=49, validators=[slug_validator])
    display_name = models.CharField(max_length=100, blank=True)
    integration = models.CharField(
        max_length=40, choices=[(provider_id, p.display_name) for provider_id, p in PROVIDERS.items()]
    )
    config = models.JSONField(default=dict, blank=True)
    # JSON object of the provider's secret fields, Fernet-encrypted at rest.
    secret = EncryptedTextField()
    secret_hint = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKING)
    status_message = models.CharField(max_length=500, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_connection_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.integration}:{self.name}"

    @property
    def provider(self):
        return PROVIDERS[self.integration]

    @property
    def secret_values(self) -> dict:
        return json.loads(self.secret) if self.secret else {}
