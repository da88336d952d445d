"""Usage policies (token caps, rate limits) and their attachment to model APIs.

The tables keep the names they had when these models belonged to `models_api`."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from models_api.models import model_api_name_validator
from workspaces.models import ActorStampedModel, WorkspaceOwnedQuerySet


class Policy(ActorStampedModel):
    """A named usage policy of a workspace, attached to model APIs.

    * `maxToken`: caps on input / output / total tokens per window (`granularity` ×
      `step`); a cap of 0 is not checked.
    * `rateLimit`: requests per minute per model API, optionally per caller key.

    A workspace default (`is_workspace_default`) applies to every model API of the
    workspace, those created later included, besides the ones attached to it.
    """

    class Type(models.TextChoices):
        MAX_TOKEN = "maxToken", "Token cap"
        RATE_LIMIT = "rateLimit", "Rate limit"

    class Granularity(models.TextChoices):
        MINUTE = "minute", "Minute"
        HOUR = "hour", "Hour"
        DAY = "day", "Day"
        MONTH = "month", "Month"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="policies"
    )
    name = models.CharField(max_length=49, validators=[model_api_name_validator])
    display_name = models.CharField(max_length=63, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    type = models.CharField(max_length=16, choices=Type.choices)
    granularity = models.CharField(
        max_length=8, choices=Granularity.choices, default=Granularity.MINUTE
    )
    step = models.PositiveIntegerField(default=1)
    max_input_tokens = models.PositiveBigIntegerField(default=0)
    max_output_tokens = models.PositiveBigIntegerField(default=0)
    max_total_tokens = models.PositiveBigIntegerField(default=0)
    requests_per_minute = models.PositiveIntegerField(default=0)
    per_caller = models.BooleanField(default=False)
    is_workspace_default = models.BooleanField(default=False)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        db_table = "models_api_policy"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_policy_name")
        ]
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors = {}
        if self.type == self.Type.MAX_TOKEN:
            caps = (self.max_input_tokens, self.max_output_tokens, self.max_total_tokens)
            if not any(caps):
                errors["max_total_tokens"] = (
                    "Set at least one cap (input, output or total tokens); 0 means not checked."
                )
            if self.step < 1:
                errors["step"] = "The window is at least one unit long."
        elif self.type == self.Type.RATE_LIMIT and self.requests_per_minute < 1:
            errors["requests_per_minute"] = "Allow at least one request per minute."
        if errors:
            raise ValidationError(errors)

    @property
    def summary(self) -> str:
        """One line for lists: what the policy enforces."""
        if self.type == self.Type.RATE_LIMIT:
            scope = "per caller key" if self.per_caller else "per model API"
            return f"{self.requests_per_minute} requests / minute, {scope}"
        window = self.granularity if self.step == 1 else f"{self.step} {self.granularity}s"
        caps = [
            f"{value:,} {label}"
            for label, value in (
                ("input", self.max_input_tokens),
                ("output", self.max_output_tokens),
                ("total", self.max_total_tokens),
            )
            if value
        ]
        return f"{', '.join(caps)} tokens / {window}"


class ModelAPIPolicy(models.Model):
    """A policy attached to a model API."""

    model_api = models.ForeignKey(
        "models_api.ModelAPI", on_delete=models.CASCADE, related_name="policy_links"
    )
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="model_api_links")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "models_api_modelapipolicy"
        constraints = [
            models.UniqueConstraint(fields=["model_api", "policy"], name="unique_model_api_policy")
        ]
        ordering = ["policy__name"]

    def __str__(self) -> str:
        return f"{self.policy_id} on {self.model_api_id}"
