"""Usage records of gateway calls and their per-minute rollups (DESIGN.md §7).

The tables keep the names they had when these models belonged to `models_api`."""

from django.db import models

from integrations.pricing import Price
from models_api.models import ModelAPI
from workspaces.models import ActorStampedModel, WorkspaceOwnedQuerySet


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
    # The provider never reported this call's tokens: they are the gateway's estimate.
    tokens_estimated = models.BooleanField(default=False)
    streamed = models.BooleanField(default=False)
    error_type = models.CharField(max_length=64, blank=True)
    connection_name = models.CharField(max_length=49, blank=True)
    # The provider and the model the call ran on (the model API's, whatever the request
    # named), what the provider said was read from its prompt cache, and what the call
    # cost at the price in force when it ran (`pricing`): nano-dollars, None when the
    # model has no known price.
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=128, blank=True)
    cached_input_tokens = models.PositiveIntegerField(default=0)
    cost_nano_usd = models.PositiveBigIntegerField(null=True, blank=True)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        db_table = "models_api_usagerecord"
        ordering = ["-time"]
        indexes = [models.Index(fields=["model_api", "-time"])]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model_api_name} {self.status_code}"


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
    (`models_api.usage.storage`); kept far longer than the raw records so charts over
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
    cost_nano_usd = models.PositiveBigIntegerField(default=0)

    objects = WorkspaceOwnedQuerySet.as_manager()

    class Meta:
        db_table = "models_api_usagerollup"
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


# The rollup's additive columns: what a batch of records adds to a minute, and what a
# range of minutes sums to (metrics, Prometheus).
ROLLUP_SUM_FIELDS: tuple[str, ...] = (
    "requests",
    "requests_2xx",
    "requests_4xx",
    "requests_5xx",
    "upstream_errors",
    "latency_sum_ms",
    "ttfb_sum_ms",
    "ttfb_count",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_nano_usd",
    *latency_bucket_fields(),
)


class PriceOverride(ActorStampedModel):
    """A model API's own prices (a negotiated rate), set by an admin: its calls cost
    these rather than the list price. USD per million tokens."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="price_overrides"
    )
    model_api = models.OneToOneField(
        ModelAPI, on_delete=models.CASCADE, related_name="price_override"
    )
    input_per_million = models.DecimalField(max_digits=12, decimal_places=3)
    output_per_million = models.DecimalField(max_digits=12, decimal_places=3)
    cached_input_per_million = models.DecimalField(
        max_digits=12, decimal_places=3, null=True, blank=True
    )

    objects = WorkspaceOwnedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"prices of {self.model_api_id}"

    @property
    def price(self) -> Price:
        return Price(
            input=self.input_per_million,
            output=self.output_per_million,
            cached_input=self.cached_input_per_million,
            source="override",
        )
