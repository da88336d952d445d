"""Workspaces, memberships, invitations, service accounts, API keys and the audit log."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from .permissions import Role
from .principals import CredentialScope

RESERVED_WORKSPACE_NAMES = frozenset(
    {
        "accounts",
        "admin",
        "api",
        "app",
        "docs",
        "healthz",
        "invitations",
        "login",
        "logout",
        "media",
        "metrics",
        "new",
        "profile",
        "readyz",
        "run",
        "settings",
        "signup",
        "static",
        "v0",
        "workspaces",
        "www",
    }
)

slug_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
    "Use lowercase letters, digits and hyphens; start and end with a letter or digit.",
)


def validate_workspace_name(value: str) -> None:
    if value in RESERVED_WORKSPACE_NAMES:
        raise ValidationError(f"“{value}” is reserved; choose another name.", code="reserved")


class WorkspaceOwnedQuerySet(models.QuerySet):
    """Tenancy lives in querysets: every workspace-owned model filters through this."""

    def for_workspace(self, workspace: "Workspace"):
        return self.filter(workspace=workspace)


class ActorStampedModel(models.Model):
    """Who created and last changed a row, and when. A service account acts without a
    user row, so the user links may be empty; the labels always say who (and outlive a
    deleted user)."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by_label = models.CharField(max_length=254, blank=True)
    updated_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def stamp(self, actor, *, created: bool = False) -> None:
        """Record `actor` (a `Principal`) as the last to change this row — and as its
        creator when `created`."""
        self.updated_by_id, self.updated_by_label = actor.user_id, actor.label
        if created:
            self.created_by_id, self.created_by_label = actor.user_id, actor.label


class Workspace(models.Model):
    name = models.CharField(
        max_length=40,
        unique=True,
        validators=[slug_validator, validate_workspace_name],
        help_text="Lowercase letters, digits and hyphens. Cannot be changed later.",
    )
    display_name = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="unique_membership")
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"
        EXPIRED = "expired"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # Only the SHA-256 of the token in the emailed link is stored.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.workspace}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


def _client_id() -> str:
    return uuid.uuid4().hex


class ScopedCredential(models.Model):
    """A credential that may be restricted, when made, to some model APIs (by name; none
    listed = all) and/or to inference only (no `/v0` writes)."""

    scope_model_apis = models.JSONField(default=list, blank=True)
    scope_inference_only = models.BooleanField(default=False)

    class Meta:
        abstract = True

    @property
    def scope(self) -> CredentialScope:
        return CredentialScope(
            model_apis=tuple(self.scope_model_apis or ()),
            inference_only=self.scope_inference_only,
        )


class ServiceAccount(ScopedCredential):
    """A machine in one workspace. Its API keys carry their own scope; its OAuth access
    tokens (client credentials, `oauth.py`) carry the account's scope."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="service_accounts"
    )
    client_id = models.CharField(max_length=64, unique=True, default=_client_id, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Its OAuth client (django-oauth-toolkit): the same client id, a hashed secret. Empty
    # for an account made before OAuth existed, until its secret is first rotated.
    oauth_application = models.OneToOneField(
        "oauth2_provider.Application",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_account",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_service_account")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(ScopedCredential):
    """A machine credential. Personal (owned by a user, reaches all their workspaces) or
    a service account's (reaches that account's workspace only).

    The key itself is shown once; the row holds its SHA-256 and a short visible prefix.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    service_account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, service_account__isnull=True)
                    | models.Q(user__isnull=True, service_account__isnull=False)
                ),
                name="api_key_has_one_owner",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class AuditLogEntry(models.Model):
    """One admin action: who, when, on what, and what changed (never a secret)."""

    workspace = models.ForeignKey(
        Workspace, null=True, on_delete=models.SET_NULL, related_name="audit_log"
    )
    # Kept as text so the entry survives the workspace's deletion.
    workspace_name = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_label = models.CharField(max_length=254)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_type} {self.target_label}"
