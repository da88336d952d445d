"""Usage storage: a batch of records written with its per-minute rollups (requests by
status class, tokens, latency buckets), never counted twice when retried, records of
a deleted model API kept and of a deleted workspace dropped, a refused record not
losing its batch, and retention purging old records and older rollups."""

from datetime import UTC, datetime, timedelta

import pytest

from blaxel_console.testing.usage import usage
from models_api.usage import storage, tasks
from models_api.usage.models import (
    LATENCY_BUCKETS_MS,
    UsageRecord,
    UsageRollup,
    latency_bucket_fields,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


def test_batch_insert_writes_records_and_the_minute_rollup(
    workspace, bare_model_api, recent_minute
):
    api = bare_model_api(workspace)

    def at(seconds):
        return recent_minute + timedelta(seconds=seconds)

    batch = [
        usage(api, when=at(1), status=200, latency=40, tokens=(10, 5)),
        usage(api, when=at(20), status=200, latency=120, ttfb=30, tokens=(7, 3)),
        usage(api, when=at(30), status=429, latency=5),
        usage(api, when=at(59), status=502, latency=9000, error_type="upstream_unreachable"),
        usage(api, when=at(61), status=200, latency=70, tokens=(1, 1)),
    ]

    assert storage.store_usage_records(batch) == 5

    assert UsageRecord.objects.filter(model_api=api).count() == 5
    first, second = UsageRollup.objects.filter(model_api=api).order_by("minute")
    assert first.minute == recent_minute
    classes = (first.requests_2xx, first.requests_4xx, first.requests_5xx)
    assert (first.requests, *classes) == (4, 2, 1, 1)
    assert first.upstream_errors == 1
    assert (first.input_tokens, first.output_tokens, first.total_tokens) == (17, 8, 25)
    assert first.latency_sum_ms == pytest.approx(40 + 120 + 5 + 9000)
    assert (first.ttfb_sum_ms, first.ttfb_count) == (30, 1)
    buckets = dict(zip(LATENCY_BUCKETS_MS, (getattr(first, f) for f in latency_bucket_fields())))
    assert buckets[10] == 1  # 5 ms
    assert buckets[50] == 1  # 40 ms (25 < x <= 50)
    assert buckets[200] == 1  # 120 ms
    assert buckets[10000] == 1  # 9000 ms
    assert sum(buckets.values()) == 4
    assert second.minute == recent_minute + timedelta(minutes=1)
    assert (second.requests, second.total_tokens) == (1, 2)


def test_a_retried_batch_never_double_counts(workspace, bare_model_api, recent_minute):
    api = bare_model_api(workspace)
    batch = [usage(api, when=recent_minute + timedelta(seconds=s), tokens=(3, 4)) for s in range(9)]
    batch.append(usage(api, when=recent_minute + timedelta(seconds=30), tokens=(3, 4)))

    storage.store_usage_records(batch)
    storage.store_usage_records(batch[:6])  # the same batch again, partly
    storage.store_usage_records([*batch, usage(api, when=recent_minute, tokens=(1, 0))])

    assert UsageRecord.objects.filter(model_api=api).count() == 11
    rollup = UsageRollup.objects.get(model_api=api)
    assert (rollup.requests, rollup.input_tokens, rollup.output_tokens) == (11, 31, 40)


def test_records_of_a_deleted_model_api_or_workspace(
    workspace, other_workspace, bare_model_api, recent_minute
):
    kept = bare_model_api(workspace, name="kept")
    gone = bare_model_api(workspace, name="gone")
    doomed = bare_model_api(other_workspace, name="doomed")
    payloads = [usage(kept, when=recent_minute), usage(gone, when=recent_minute)]
    payloads.append(usage(doomed, when=recent_minute))
    gone.delete()
    other_workspace.delete()

    assert storage.store_usage_records(payloads) == 2

    # The deleted model API's record stays (by name) in its workspace; the deleted
    # workspace's record is dropped rather than blocking the queue.
    assert set(UsageRecord.objects.values_list("model_api_name", flat=True)) == {"kept", "gone"}
    assert UsageRecord.objects.get(model_api_name="gone").model_api is None


def test_a_record_the_database_refuses_is_dropped_and_the_rest_of_its_batch_kept(
    workspace, bare_model_api, recent_minute
):
    api = bare_model_api(workspace)
    good = [usage(api, when=recent_minute, tokens=(3, 4)) for _ in range(2)]
    refused = usage(api, when=recent_minute, tokens=(-1, 0))  # a negative token count

    storage.store_usage_records([good[0], refused, good[1]])

    stored = set(UsageRecord.objects.values_list("request_id", flat=True))
    assert stored == {record["request_id"] for record in good}
    rollup = UsageRollup.objects.get(model_api=api)
    assert (rollup.requests, rollup.total_tokens) == (2, 14)


def test_a_batch_written_twice_is_counted_once(workspace, bare_model_api, recent_minute):
    api = bare_model_api(workspace)
    batch = [usage(api, when=recent_minute, tokens=(1, 1)) for _ in range(3)]

    storage.store_usage_records(batch[:2])
    storage.store_usage_records(batch)  # the first two again, and one new

    assert UsageRecord.objects.filter(model_api=api).count() == 3
    rollup = UsageRollup.objects.get(model_api=api)
    assert (rollup.requests, rollup.total_tokens) == (3, 6)


# --- retention ---------------------------------------------------------------------------------


def test_retention_deletes_old_records_and_older_rollups(settings, workspace, bare_model_api):
    settings.USAGE_RETENTION_DAYS = 30
    settings.USAGE_ROLLUP_RETENTION_DAYS = 400
    api = bare_model_api(workspace)
    now = datetime.now(UTC)
    fresh = usage(api, when=now - timedelta(days=29))
    stale = usage(api, when=now - timedelta(days=31))
    storage.store_usage_records([fresh, stale])
    for days in (31, 399, 401):
        UsageRollup.objects.create(
            workspace=workspace,
            model_api=api,
            model_api_name=api.name,
            minute=(now - timedelta(days=days)).replace(second=0, microsecond=0),
            requests=1,
        )

    result = tasks.purge_old_usage()

    assert result == {"records": 1, "rollups": 1}
    assert list(UsageRecord.objects.values_list("request_id", flat=True)) == [fresh["request_id"]]
    remaining = sorted((now - r.minute).days for r in UsageRollup.objects.all())
    # The 29-day-old minute (recomputed from its record), and the 31- and 399-day ones.
    assert remaining == [29, 31, 399]
