"""`GET /metrics` for operators, in Prometheus' text exposition format.

Off unless `METRICS_TOKEN` is set (404), and then only with `Authorization: Bearer
<METRICS_TOKEN>` (401 otherwise). The numbers come from the durable rollups, so every web
process answers the same totals whichever one the load balancer picks: request counts by
status class, a latency histogram, upstream errors and tokens per model API, plus the
usage queue's depth. Counters cover the rollups' retention (`USAGE_ROLLUP_RETENTION_DAYS`);
Prometheus treats the drop when old minutes expire as a counter reset. Then, read at each
scrape, the gauges of the process that answered (`blaxel_console.gauges`): the gateway's
calls in flight, open provider connections and event-loop tasks.
"""

import hmac
import time

from django.conf import settings
from django.db.models import Sum
from django.http import Http404, HttpResponse

from blaxel_console import gauges
from workspaces.keys import bearer_token

from .models import LATENCY_BUCKETS_MS, ROLLUP_SUM_FIELDS, UsageRollup, latency_bucket_fields
from .queue import queue_depth

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CACHE_SECONDS = 5.0
_cache: dict = {"at": 0.0, "body": ""}


def _label_value(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels) -> str:
    inner = ",".join(f'{key}="{_label_value(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _number(value) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value or 0))


def render() -> str:
    """The exposition text (no caching)."""
    rows = (
        UsageRollup.objects.values("workspace__name", "model_api_name")
        .annotate(**{field: Sum(field) for field in ROLLUP_SUM_FIELDS})
        .order_by("workspace__name", "model_api_name")
    )
    lines = [
        "# HELP blaxel_gateway_requests_total Gateway calls by status class.",
        "# TYPE blaxel_gateway_requests_total counter",
    ]
    histogram = [
        "# HELP blaxel_gateway_request_duration_seconds Gateway call latency.",
        "# TYPE blaxel_gateway_request_duration_seconds histogram",
    ]
    upstream = [
        "# HELP blaxel_gateway_upstream_errors_total Calls that got no answer from the provider "
        "(unreachable, timed out).",
        "# TYPE blaxel_gateway_upstream_errors_total counter",
    ]
    tokens = [
        "# HELP blaxel_gateway_tokens_total Tokens reported by the provider.",
        "# TYPE blaxel_gateway_tokens_total counter",
    ]
    for row in rows:
        base = {"workspace": row["workspace__name"], "model_api": row["model_api_name"]}
        other = row["requests"] - row["requests_2xx"] - row["requests_4xx"] - row["requests_5xx"]
        for status_class, count in (
            ("2xx", row["requests_2xx"]),
            ("4xx", row["requests_4xx"]),
            ("5xx", row["requests_5xx"]),
            ("other", other),
        ):
            labels = _labels(**base, status_class=status_class)
            lines.append(f"blaxel_gateway_requests_total{labels} {_number(count)}")
        cumulative = 0
        for field, upper in zip(latency_bucket_fields(), LATENCY_BUCKETS_MS, strict=True):
            cumulative += row[field] or 0
            le = "+Inf" if upper == float("inf") else repr(upper / 1000)
            histogram.append(
                f"blaxel_gateway_request_duration_seconds_bucket{_labels(**base, le=le)} "
                f"{cumulative}"
            )
        histogram.append(
            f"blaxel_gateway_request_duration_seconds_sum{_labels(**base)} "
            f"{(row['latency_sum_ms'] or 0) / 1000!r}"
        )
        histogram.append(
            f"blaxel_gateway_request_duration_seconds_count{_labels(**base)} "
            f"{_number(row['requests'])}"
        )
        upstream.append(
            f"blaxel_gateway_upstream_errors_total{_labels(**base)} "
            f"{_number(row['upstream_errors'])}"
        )
        for direction in ("input", "output"):
            tokens.append(
                f"blaxel_gateway_tokens_total{_labels(**base, direction=direction)} "
                f"{_number(row[f'{direction}_tokens'])}"
            )
    depth = queue_depth()
    queue = [
        "# HELP blaxel_usage_queue_depth Usage records waiting in Redis to be written "
        "(0 without Redis: records are written in-process).",
        "# TYPE blaxel_usage_queue_depth gauge",
        f"blaxel_usage_queue_depth {depth or 0}",
    ]
    return "\n".join([*lines, *histogram, *upstream, *tokens, *queue]) + "\n"


def metrics_view(request):
    """The scrape endpoint; see the module docstring for how it is protected."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404("The metrics endpoint is disabled (METRICS_TOKEN is not set).")
    presented = bearer_token(request.headers.get("Authorization")) or ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    now = time.monotonic()
    if now - _cache["at"] > CACHE_SECONDS:
        _cache.update(at=now, body=render())
    # The process's gauges are read at every scrape: they say what it holds now.
    return HttpResponse(_cache["body"] + gauges.render(), content_type=CONTENT_TYPE)
