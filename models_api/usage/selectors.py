"""Reads of usage: metrics for the Metrics tab, the workspace Usage page and their API,
the log of calls, and a model API's last call and calls today.

Everything is computed from the per-minute rollups (`UsageRollup`), summed in the database
per minute (short ranges) or per hour (long ranges) and then grouped into the chart's
steps. Latency percentiles are estimated from the latency histogram by linear
interpolation inside the bucket that holds the rank, the way Prometheus'
`histogram_quantile` does; averages, counts and tokens are exact.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from integrations import pricing
from models_api.models import ModelAPI
from workspaces.models import Workspace

from .models import (
    LATENCY_BUCKETS_MS,
    ROLLUP_SUM_FIELDS,
    PriceOverride,
    UsageRecord,
    UsageRollup,
    latency_bucket_fields,
)


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    duration: timedelta
    step: timedelta
    hourly: bool  # sum per hour in the database (long ranges)


RANGES: dict[str, Range] = {
    "1h": Range("1h", "Last hour", timedelta(hours=1), timedelta(minutes=1), False),
    "24h": Range("24h", "Last 24 hours", timedelta(hours=24), timedelta(minutes=15), False),
    "7d": Range("7d", "Last 7 days", timedelta(days=7), timedelta(hours=2), True),
    "30d": Range("30d", "Last 30 days", timedelta(days=30), timedelta(hours=6), True),
}
DEFAULT_RANGE = "24h"

COST_NOTE = (
    "Each call is priced as it is recorded, at the price in force when it ran: the "
    "provider's list price, or the model API's own prices set by an admin. An estimate, "
    "not an invoice: calls are billed by the provider to the workspace's own account."
)


def parse_range(value: str | None) -> Range:
    """`?range=` → a Range; an unknown value is a ValidationError on `range`."""
    key = value or DEFAULT_RANGE
    if key not in RANGES:
        raise ValidationError({"range": f"Choose one of: {', '.join(RANGES)}."})
    return RANGES[key]


def quantile(q: float, bucket_counts: list[int]) -> float | None:
    """Estimated latency (ms) at quantile `q` from non-cumulative bucket counts."""
    total = sum(bucket_counts)
    if not total:
        return None
    rank = q * total
    cumulative = 0
    for index, count in enumerate(bucket_counts):
        if count and cumulative + count >= rank:
            lower = LATENCY_BUCKETS_MS[index - 1] if index else 0.0
            upper = LATENCY_BUCKETS_MS[index]
            if upper == float("inf"):
                return float(lower)  # the open bucket has no upper bound to interpolate to
            return lower + (upper - lower) * (rank - cumulative) / count
        cumulative += count
    return float(LATENCY_BUCKETS_MS[-2])


def _empty() -> dict:
    return dict.fromkeys(ROLLUP_SUM_FIELDS, 0)


def _add(total: dict, row: dict) -> None:
    for field in ROLLUP_SUM_FIELDS:
        total[field] += row.get(field) or 0


def _latency(values: dict) -> dict:
    buckets = [values[field] for field in latency_bucket_fields()]
    requests = values["requests"]
    return {
        "avg": values["latency_sum_ms"] / requests if requests else None,
        "p50": quantile(0.50, buckets),
        "p90": quantile(0.90, buckets),
        "p99": quantile(0.99, buckets),
    }


def _window(range_: Range, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) aligned to the range's step, the last step containing `now`."""
    step = range_.step.total_seconds()
    end_epoch = (now.timestamp() // step + 1) * step
    end = datetime.fromtimestamp(end_epoch, UTC)
    return end - range_.duration, end


def fitting_range_key(
    *, workspace: Workspace, model_api: ModelAPI | None = None, now: datetime | None = None
) -> str:
    """The shortest range holding every call of the longest one, so that its steps (bars)
    spread the calls out: calls of the last minutes fill the 1-minute bars of the last
    hour rather than one 15-minute bar at the edge of a day. No calls: the default."""
    now = now or datetime.now(UTC)
    longest = max(RANGES.values(), key=lambda range_: range_.duration)
    oldest = _rollups(workspace, model_api, *_window(longest, now)).aggregate(oldest=Min("minute"))[
        "oldest"
    ]
    if oldest is None:
        return DEFAULT_RANGE
    for range_ in sorted(RANGES.values(), key=lambda range_: range_.duration):
        if _window(range_, now)[0] <= oldest:
            return range_.key
    return longest.key


def _rollups(workspace: Workspace, model_api: ModelAPI | None, start, end):
    rollups = UsageRollup.objects.for_workspace(workspace).filter(minute__gte=start, minute__lt=end)
    if model_api is not None:
        rollups = rollups.filter(model_api=model_api)
    return rollups


def _sums():
    return {field: Sum(field) for field in ROLLUP_SUM_FIELDS}


def usage_metrics(
    *,
    workspace: Workspace,
    model_api: ModelAPI | None = None,
    range_key: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Requests by status class, requests per second, latency avg/p50/p90/p99, tokens and
    estimated cost, as a summary and as a series over the range, for one model API or the
    whole workspace (then also per model API)."""
    range_ = parse_range(range_key)
    now = now or datetime.now(UTC)
    start, end = _window(range_, now)
    rollups = _rollups(workspace, model_api, start, end)

    if range_.hourly:
        per_time = rollups.annotate(slot=TruncHour("minute")).values("slot")
    else:
        per_time = rollups.values(slot=F("minute"))
    rows = per_time.annotate(**_sums()).order_by("slot")

    step = range_.step
    points_count = int(range_.duration / step)
    points = [_empty() for _ in range(points_count)]
    summary = _empty()
    for row in rows:
        slot = row["slot"]
        if slot.tzinfo is None:
            slot = slot.replace(tzinfo=UTC)
        index = int((slot - start) / step)
        if 0 <= index < points_count:
            _add(points[index], row)
        _add(summary, row)

    per_model = _per_model_api(rollups)
    cost = _estimated_cost(workspace, per_model)
    seconds = range_.duration.total_seconds()
    return {
        "range": range_.key,
        "label": range_.label,
        "start": start,
        "end": end,
        "stepSeconds": int(step.total_seconds()),
        "summary": _summary(summary, seconds, cost),
        "series": [
            _point(start + index * step, values, step.total_seconds())
            for index, values in enumerate(points)
        ],
        "modelApis": [
            {
                "name": name,
                **_summary(values, seconds, cost["byModelApi"].get(name)),
            }
            for name, values in sorted(per_model.items())
        ]
        if model_api is None
        else [],
    }


def _per_model_api(rollups) -> dict[str, dict]:
    per_model = {}
    for row in rollups.values("model_api_name").annotate(**_sums()):
        values = _empty()
        _add(values, row)
        per_model[row["model_api_name"]] = values
    return per_model


def _estimated_cost(workspace: Workspace, per_model: dict[str, dict]) -> dict:
    """Spend per model API: what its calls cost at the prices in force when they ran
    (each record's cost is set as it is written, and summed in the rollups). A model API
    whose model has no known price (no list price, no override) is named."""
    model_apis = ModelAPI.objects.for_workspace(workspace).filter(name__in=list(per_model))
    priced = {
        model_api.name
        for model_api in model_apis.select_related("price_override")
        if price_of(model_api) is not None
    }
    by_model_api, total, unpriced = {}, 0, []
    for name, values in per_model.items():
        nano_usd = values["cost_nano_usd"]
        if not nano_usd and name not in priced:
            if values["input_tokens"] or values["output_tokens"]:
                unpriced.append(name)
            by_model_api[name] = None
            continue
        by_model_api[name] = _usd(nano_usd)
        total += nano_usd
    return {
        **_usd(total),
        "note": COST_NOTE,
        "unpricedModelApis": sorted(unpriced),
        "byModelApi": by_model_api,
    }


def _usd(nano_usd: int) -> dict:
    return {
        "amount": round(nano_usd / pricing.NANO_USD_PER_USD, 6),
        "currency": "USD",
        "estimate": True,
    }


def spend_by_caller(*, workspace: Workspace, start: datetime, end: datetime) -> list[dict]:
    """Calls, tokens and cost per caller and key over a range (from the records, kept
    `USAGE_RETENTION_DAYS`), most expensive first."""
    rows = (
        UsageRecord.objects.for_workspace(workspace)
        .filter(time__gte=start, time__lt=end)
        .values("caller", "api_key_prefix")
        .annotate(
            requests=Count("id"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost_nano_usd=Sum("cost_nano_usd"),
        )
    )
    return sorted(rows, key=lambda row: (-(row["cost_nano_usd"] or 0), -row["requests"]))


def model_api_prices(*, workspace: Workspace) -> list[dict]:
    """Each model API with the price its calls cost now and where that price comes from."""
    rows = []
    for model_api in (
        ModelAPI.objects.for_workspace(workspace).select_related("price_override").order_by("name")
    ):
        override = getattr(model_api, "price_override", None)
        rows.append(
            {
                "model_api": model_api,
                "override": override,
                "list_price": pricing.list_price(model_api.runtime_type, model_api.runtime_model),
            }
        )
    return rows


def price_of(model_api: ModelAPI) -> pricing.Price | None:
    """The price a model API's calls cost now: its override, else its model's list price."""
    try:
        return model_api.price_override.price
    except PriceOverride.DoesNotExist:
        return pricing.list_price(model_api.runtime_type, model_api.runtime_model)


def _summary(values: dict, seconds: float, cost: dict | None) -> dict:
    summary = {
        "requests": values["requests"],
        "requests2xx": values["requests_2xx"],
        "requests4xx": values["requests_4xx"],
        "requests5xx": values["requests_5xx"],
        "upstreamErrors": values["upstream_errors"],
        "requestsPerSecond": values["requests"] / seconds if seconds else 0.0,
        "latencyMs": _latency(values),
        "ttfbAvgMs": values["ttfb_sum_ms"] / values["ttfb_count"] if values["ttfb_count"] else None,
        "tokens": {
            "input": values["input_tokens"],
            "output": values["output_tokens"],
            "total": values["total_tokens"],
        },
    }
    if cost is not None:
        summary["estimatedCost"] = {k: v for k, v in cost.items() if k != "byModelApi"}
    return summary


def _point(time: datetime, values: dict, step_seconds: float) -> dict:
    return {
        "time": time,
        "requests": values["requests"],
        "requests2xx": values["requests_2xx"],
        "requests4xx": values["requests_4xx"],
        "requests5xx": values["requests_5xx"],
        "requestsPerSecond": values["requests"] / step_seconds,
        "latencyMs": _latency(values),
        "tokens": {
            "input": values["input_tokens"],
            "output": values["output_tokens"],
            "total": values["total_tokens"],
        },
    }


# --- logs -------------------------------------------------------------------------------------

LOG_PAGE_SIZE = 50


def usage_records(
    *,
    workspace: Workspace,
    model_api: ModelAPI,
    status_class: str | None = None,
    caller: str | None = None,
    path: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    """The model API's calls, newest first, filtered. Never holds prompts or keys (the
    records have none to hold)."""
    records = UsageRecord.objects.for_workspace(workspace).filter(model_api=model_api)
    if status_class:
        low = int(status_class[0]) * 100
        records = records.filter(status_code__gte=low, status_code__lt=low + 100)
    if caller:
        records = records.filter(caller__icontains=caller)
    if path:
        records = records.filter(path__icontains=path.strip("/"))
    if since:
        records = records.filter(time__gte=since)
    if until:
        records = records.filter(time__lt=until)
    return records.order_by("-time", "-id")


def encode_log_cursor(record: UsageRecord) -> str:
    raw = f"{record.time.astimezone(UTC).isoformat()}|{record.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_log_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        stamp, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(stamp), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError) as error:
        raise ValidationError({"cursor": "Invalid cursor."}) from error


def log_page(records, *, cursor: str | None = None, limit: int = LOG_PAGE_SIZE):
    """One page of `usage_records(...)` after `cursor` (keyset pagination: stable while
    new calls arrive, and no count of the whole table). Returns (page, next_cursor)."""
    if cursor:
        moment, pk = decode_log_cursor(cursor)
        records = records.filter(Q(time__lt=moment) | Q(time=moment, id__lt=pk))
    page = list(records[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    return page, (encode_log_cursor(page[-1]) if has_more else "")


# --- a model API's recent calls (the list and the Overview tab) ---------------------------


def start_of_today() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def with_usage(model_apis: QuerySet[ModelAPI]) -> QuerySet[ModelAPI]:
    """Each model API with `last_call_at` and `calls_today`."""
    return model_apis.annotate(
        last_call_at=Max("usage_records__time"),
        calls_today=Count("usage_records", filter=Q(usage_records__time__gte=start_of_today())),
    )


def model_api_last_call(*, model_api: ModelAPI) -> UsageRecord | None:
    return (
        UsageRecord.objects.for_workspace(model_api.workspace)
        .filter(model_api=model_api)
        .order_by("-time")
        .first()
    )


def model_api_calls_today(*, model_api: ModelAPI) -> int:
    return (
        UsageRecord.objects.for_workspace(model_api.workspace)
        .filter(model_api=model_api, time__gte=start_of_today())
        .count()
    )
