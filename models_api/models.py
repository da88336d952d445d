"""Model APIs (DESIGN.md §6) and their usage records (§7)."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from workspaces.models import WorkspaceOwnedQuerySet

model_api_name_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,47}[a-z0-9])?$",
    "Use lowercase letters, digits and hyphens (at most 49), starting and ending with a "
    "letter or digit.",
)


class ModelAPI(models.Model):
    class Status(models.TextChoices):
        DEPLOYING = "DEPLOYING"
        DEPLOYED = "DEPLOYED"
        FAILED = "FAILED"
        DEACTIVATED = "DEACTIVATED"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="model_apis"
    )
    name = models.CharField(max_length=49, validators=[model_api_name_validator])
    display_name = models.CharField(max_length=100, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    runtime_type = models.CharField(max_length=40)  # provider id
    runtime_model = models.CharField(max_length=200)  # provider model id
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DEPLOYING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who, as text: a service account has no user row, and the label outlives the user.
    created_by_label = models.CharField(max_length=254, blank=True)
    updated_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_model_api_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelAPIConnection(models.Model):
    """The model API's connections in order: position 0 serves, the others are fallbacks."""

    model_api = models.ForeignKey(
        ModelAPI, on_delete=models.CASCADE, related_name="connection_links"
    )
    connection = models.ForeignKey(
        "integrations.IntegrationConnection",
        on_delete=models.PROTECT,
        related_name="model_api_links",
    )
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["model_api", "position"], name="unique_link_position"),
            models.UniqueConstraint(
                fields=["model_api", "connection"], name="unique_link_connection"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_api_id} → {self.connection_id} (#{self.position})"


class ModelAPIEvent(models.Model):
    model_api = models.ForeignKey(ModelAPI, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    status = models.CharField(max_length=40)
    message = models.TextField(blank=True)
    time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["time", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.status}: {self.message}"


class UsageRecord(models.Model):
    """One gateway call. Never holds a prompt, an answer or a key."""

    request_id = models.CharField(max_length=64, unique=True)
    time = models.DateTimeField(db_index=True)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="usage_records"
    )
    model_api = models.ForeignKey(
        ModelAPI, null=True, on_delete=models.SET_NULL, related_name="usage_records"
    )
    model_api_name = models.CharField(max_length=49)
    caller = models.CharField(max_length=254)  # user email or "service account <name>"
    api_key_prefix = models.CharField(max_length=16, blank=True)
    path = models.CharField(max_length=100)
    status_code = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    ttfb_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    streamed = models.BooleanField(default=False)
    error_type = models.CharField(max_length=64, blank=True)
    connection_name = models.CharField(max_length=49, blank=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-time"]
        indexes = [models.Index(fields=["model_api", "-time"])]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model_api_name} {self.status_code}"


from .policy_models import *  # noqa: F403,E402
