"""Model APIs (DESIGN.md §6): their connections, in order, and their events."""

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from workspaces.models import ActorStampedModel, WorkspaceOwnedQuerySet

model_api_name_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,47}[a-z0-9])?$",
    "Use lowercase letters, digits and hyphens (at most 49), starting and ending with a "
    "letter or digit.",
)


class ModelAPI(ActorStampedModel):
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
