"""Metric numbers checked against known injected records."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from blaxel_console.testing.usage import usage
from models_api.usage import selectors as usage_selectors
from models_api.usage import storage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


@pytest.fixture
def now():
    return datetime.now(UTC)


@pytest.fixture
def injected(workspace, other_workspace, bare_model_api, now):
    """Four calls of `my-gpt` (gpt-4o-mini) 10-13 minutes ago, one of `embedder` two days
    ago, and one call in another workspace."""
    api = bare_model_api(workspace, name="my-gpt", model="gpt-4o-mini")
    embedder = bare_model_api(workspace, name="embedder", model="text-embedding-3-small")
    foreign = bare_model_api(other_workspace, name="my-gpt")
    storage.store_usage_records(
        [
            usage(api, when=now - timedelta(minutes=13), latency=40, ttfb=10, tokens=(100, 50)),
            usage(api, when=now - timedelta(minutes=12), latency=60, ttfb=30, tokens=(200, 100)),
            usage(api, when=now - timedelta(minutes=11), status=404, latency=150),
            usage(api, when=now - timedelta(minutes=10), status=500, latency=900),
            usage(embedder, when=now - timedelta(days=2), latency=20, tokens=(1_000_000, 0)),
            usage(foreign, when=now - timedelta(minutes=5), latency=10, tokens=(9, 9)),
        ]
    )
    return api, embedder


def test_model_api_metrics_over_the_last_hour(workspace, injected, now):
    api, _ = injected

    result = usage_selectors.usage_metrics(
        workspace=workspace, model_api=api, range_key="1h", now=now
    )

    summary = result["summary"]
    assert (summary["requests"], summary["requests2xx"]) == (4, 2)
    assert (summary["requests4xx"], summary["requests5xx"]) == (1, 1)
    assert summary["requestsPerSecond"] == pytest.approx(4 / 3600)
    assert summary["tokens"] == {"input": 300, "output": 150, "total": 450}
    assert summary["ttfbAvgMs"] == pytest.approx(20)
    latency = summary["latencyMs"]
    assert latency["avg"] == pytest.approx((40 + 60 + 150 + 900) / 4)
    # Rank 2 of 4 ends the (50, 100] bucket; 3.6 and 3.96 fall in (750, 1000].
    assert latency["p50"] == pytest.approx(100)
    assert latency["p90"] == pytest.approx(750 + 250 * 0.6)
    assert latency["p99"] == pytest.approx(750 + 250 * 0.96)
    # gpt-4o-mini list prices: $0.15 in, $0.60 out per million tokens.
    cost = summary["estimatedCost"]
    assert cost["amount"] == pytest.approx(300 * 0.15 / 1e6 + 150 * 0.60 / 1e6)
    assert cost["estimate"] is True and "provider" in cost["note"]

    series = result["series"]
    assert len(series) == 60
    assert sum(point["requests"] for point in series) == 4
    minute_of_first_call = (now - timedelta(minutes=13)).replace(second=0, microsecond=0)
    point = next(p for p in series if p["time"] == minute_of_first_call)
    assert (point["requests2xx"], point["tokens"]["input"]) == (1, 100)
    assert point["latencyMs"]["avg"] == pytest.approx(40)


def test_workspace_usage_spans_its_model_apis_only(workspace, injected, now):
    day = usage_selectors.usage_metrics(workspace=workspace, range_key="24h", now=now)
    week = usage_selectors.usage_metrics(workspace=workspace, range_key="7d", now=now)

    assert day["summary"]["requests"] == 4  # the embedder's call is two days old
    assert len(day["series"]) == 96
    assert week["summary"]["requests"] == 5
    assert week["summary"]["tokens"]["input"] == 1_000_300
    assert len(week["series"]) == 84
    assert sum(point["requests"] for point in week["series"]) == 5
    assert [row["name"] for row in week["modelApis"]] == ["embedder", "my-gpt"]
    embedder_row = week["modelApis"][0]
    assert embedder_row["estimatedCost"]["amount"] == pytest.approx(0.02)
    assert week["summary"]["estimatedCost"]["amount"] == pytest.approx(
        0.02 + 300 * 0.15 / 1e6 + 150 * 0.60 / 1e6
    )


def test_an_empty_range_has_zeros_and_no_percentiles(workspace, bare_model_api, now):
    api = bare_model_api(workspace)

    result = usage_selectors.usage_metrics(
        workspace=workspace, model_api=api, range_key="30d", now=now
    )

    assert result["summary"]["requests"] == 0
    assert result["summary"]["latencyMs"] == {"avg": None, "p50": None, "p90": None, "p99": None}
    assert len(result["series"]) == 120


def test_an_unknown_range_is_a_validation_error():
    with pytest.raises(ValidationError) as error:
        usage_selectors.parse_range("2w")
    assert "range" in error.value.message_dict


def test_quantile_of_the_open_bucket_is_its_lower_bound():
    counts = [0] * (len(usage_selectors.LATENCY_BUCKETS_MS) - 1) + [3]
    assert usage_selectors.quantile(0.5, counts) == usage_selectors.LATENCY_BUCKETS_MS[-2]
