"""Usage policies (token caps, rate limits) and the per-minute usage rollups.

Imported at the end of `models_api/models.py`, so Django sees these models as part of the
`models_api` app; they live here to keep the observability work in its own module.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from workspaces.models import WorkspaceOwnedQuerySet

# `models.py` imports this module at its end, so its names already exist here.
from .models import model_api_name_validator

__all__ = [
    "LATENCY_BUCKETS_MS",
    "ModelAPIPolicy",
    "Policy",
    "UsageRollup",
    "latency_bucket_fields",
]


class Policy(models.Model):
    """A named usage policy of a workspace, attached to model APIs.

    * `maxToken`: caps on input / output / total tokens per window (`granularity` ×
      `step`); a cap of 0 is not checked.
    * `rateLimit`: requests per minute per model API, optionally per caller key.
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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=254, blank=True)
    updated_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
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
        constraints = [
            models.UniqueConstraint(fields=["model_api", "policy"], name="unique_model_api_policy")
        ]
        ordering = ["policy__name"]

    def __str__(self) -> str:
        return f"{self.policy_id} on {self.model_api_id}"


# Upper bounds (milliseconds) of the latency histogram's buckets; the last one is open.
# Close to Prometheus' defaults, stretched for LLM calls that take seconds.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    10,
    25,
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2500,
    5000,
    10000,
    30000,
    60000,
    float("inf"),
)


def latency_bucket_fields() -> list[str]:
    """Names of the rollup's bucket columns, in bucket order."""
    return [f"latency_bucket_{index:02d}" for index in range(len(LATENCY_BUCKETS_MS))]


class UsageRollup(models.Model):
    """Usage of one model API in one minute, incremented as its records are stored
    (`usage_pipeline`); kept far longer than the raw records so charts over
    long ranges stay fast. Latency buckets are not cumulative (bucket i counts calls with
    `LATENCY_BUCKETS_MS[i-1] < latency <= LATENCY_BUCKETS_MS[i]`)."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="usage_rollups"
    )
    model_api = models.ForeignKey(
        "models_api.ModelAPI", null=True, on_delete=models.SET_NULL, related_name="usage_rollups"
    )
    model_api_name = models.CharField(max_length=49)
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    requests_2xx = models.PositiveIntegerField(default=0)
    requests_4xx = models.PositiveIntegerField(default=0)
    requests_5xx = models.PositiveIntegerField(default=0)
    upstream_errors = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0)
    ttfb_sum_ms = models.FloatField(default=0)
    ttfb_count = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "model_api_name", "minute"], name="unique_usage_rollup"
            )
        ]
        indexes = [models.Index(fields=["workspace", "minute"])]
        ordering = ["minute"]

    def __str__(self) -> str:
        return f"{self.model_api_name} @ {self.minute:%Y-%m-%d %H:%M}"


for _field_name in latency_bucket_fields():
    UsageRollup.add_to_class(_field_name, models.PositiveIntegerField(default=0))
