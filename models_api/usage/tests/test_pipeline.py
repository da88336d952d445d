"""The usage pipeline: batch insert, idempotency, rollups, the durable Redis queue with a
worker that goes down and comes back, the fallback when Redis is unreachable, retention."""

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from blaxel_console import redis
from blaxel_console.testing.observability import redis_required, usage
from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import subprocess_env
from blaxel_console.testing.waiting import run_async, wait_until
from models_api.usage import queue, storage, tasks
from models_api.usage.models import (
    LATENCY_BUCKETS_MS,
    UsageRecord,
    UsageRollup,
    latency_bucket_fields,
)
from models_api.usage.recorder import Recorder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]

MINUTE = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)


@pytest.fixture
def recent_minute():
    """A whole minute well inside the retention window."""
    return (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)


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


def test_without_redis_a_record_is_written_in_process(settings, workspace, bare_model_api):
    settings.REDIS_URL = ""
    api = bare_model_api(workspace)

    queue.enqueue([usage(api, request_id="req-embedded", tokens=(2, 2))])

    record = UsageRecord.objects.get(request_id="req-embedded")
    assert (record.model_api, record.total_tokens) == (api, 4)
    assert UsageRollup.objects.get(model_api=api).requests == 1


@redis_required()
def test_the_recorder_sends_what_gathered_in_one_go_without_being_flushed(
    isolated_usage_queue, workspace, bare_model_api
):
    """The gateway's buffer: records and token counts added on the event loop reach Redis
    a moment later (the loop's own timer), the counts of one counter summed."""
    api = bare_model_api(workspace)
    counter = f"test-tokens-{uuid.uuid4().hex[:8]}"
    recorder = Recorder(fallback=lambda payloads: pytest.fail("Redis is up"))

    async def calls():
        for _ in range(3):
            payload = storage.record_payload(usage(api, tokens=(1, 2)))
            recorder.add(payload, [(counter, 3, 60)])
        await asyncio.sleep(0.2)  # ten times the 20 ms the recorder gathers for

    run_async(calls())

    assert queue.queue_depth() == 3
    assert int(redis.sync_client().get(counter)) == 9
    assert 0 < redis.sync_client().ttl(counter) <= 60
    redis.sync_client().delete(counter)


EXITING_PROCESS = """
import asyncio, django
django.setup()
from models_api.usage import services as usage

async def last_call():
    usage.record_call({payload!r})  # the loop ends before its 20 ms timer fires

asyncio.run(last_call())
"""


@redis_required()
def test_records_buffered_when_a_process_exits_are_still_sent(
    isolated_usage_queue, workspace, bare_model_api
):
    payload = storage.record_payload(usage(bare_model_api(workspace)))
    subprocess.run(
        [sys.executable, "-c", EXITING_PROCESS.format(payload=payload)],
        cwd=ROOT,
        env=subprocess_env(USAGE_QUEUE_KEY=isolated_usage_queue),
        check=True,
        timeout=60,
    )
    (queued,) = redis.sync_client().lrange(queue.queue_key(), 0, -1)
    assert json.loads(queued)["request_id"] == payload["request_id"]


def test_the_recorder_hands_records_to_its_fallback_when_redis_is_unreachable(
    settings, workspace, bare_model_api
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    api = bare_model_api(workspace)
    handed_over = []
    recorder = Recorder(fallback=handed_over.extend)
    records = [storage.record_payload(usage(api)) for _ in range(2)]

    async def calls():
        for record in records:
            recorder.add(record, [("test-tokens", 3, 60)])
        await asyncio.sleep(0.2)  # ten times the 20 ms the recorder gathers for

    run_async(calls())

    assert handed_over == records


def test_the_recorder_flushes_from_a_thread_when_the_loop_is_gone(
    settings, workspace, bare_model_api
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    api = bare_model_api(workspace)
    handed_over = []
    recorder = Recorder(fallback=handed_over.extend)
    record = storage.record_payload(usage(api))

    async def call_then_stop():
        recorder.add(record)  # the loop ends before its timer fires

    run_async(call_then_stop())
    assert handed_over == []

    assert recorder.flush()
    assert handed_over == [record]


def test_redis_unreachable_falls_back_to_a_direct_write(settings, workspace, bare_model_api):
    # Nothing listens on port 1: the connection is refused at once.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    api = bare_model_api(workspace)

    queue.enqueue([usage(api, request_id="req-fallback")])

    assert UsageRecord.objects.filter(request_id="req-fallback").count() == 1


def test_unsaved_usage_record_instances_are_accepted(settings, workspace, bare_model_api):
    settings.REDIS_URL = ""
    api = bare_model_api(workspace)
    payload = usage(api, request_id="req-instance", tokens=(5, 6))

    queue.enqueue([UsageRecord(**payload)])

    assert UsageRecord.objects.get(request_id="req-instance").total_tokens == 11


# --- the durable queue (Redis) ---------------------------------------------------------------


@redis_required()
def test_queued_records_wait_in_redis_until_drained(
    isolated_usage_queue, workspace, bare_model_api
):
    api = bare_model_api(workspace)
    payloads = [usage(api, tokens=(1, 2)) for _ in range(7)]
    for payload in payloads:
        queue.enqueue([payload])

    assert queue.queue_depth() == 7
    assert UsageRecord.objects.filter(model_api=api).count() == 0

    assert tasks.drain_usage_queue() == 7

    assert queue.queue_depth() == 0
    assert set(UsageRecord.objects.values_list("request_id", flat=True)) == {
        p["request_id"] for p in payloads
    }


@redis_required()
def test_drain_works_in_batches(settings, isolated_usage_queue, workspace, bare_model_api):
    settings.USAGE_DRAIN_BATCH_SIZE = 4
    api = bare_model_api(workspace)
    for _ in range(10):
        queue.enqueue([usage(api)])

    # One batch per call of the inner loop: max_batches=2 writes 8 of 10.
    assert tasks.drain_usage_queue(max_batches=2) == 8
    assert queue.queue_depth() == 2
    assert tasks.drain_usage_queue() == 2
    assert UsageRecord.objects.filter(model_api=api).count() == 10


@redis_required()
def test_a_drain_that_died_mid_batch_loses_nothing_and_doubles_nothing(
    isolated_usage_queue, workspace, bare_model_api, recent_minute
):
    api = bare_model_api(workspace)
    payloads = [usage(api, when=recent_minute, tokens=(10, 0)) for _ in range(6)]
    for payload in payloads:
        queue.enqueue([payload])
    client = redis.sync_client()
    # A drain moved a batch of 4 to the processing list, wrote it to the database, and
    # died before it could drop the processing list.
    queued, processing = queue.queue_key(), queue.processing_key()
    moved = client.eval(queue.MOVE_SCRIPT, 2, queued, processing, 4)
    storage.store_usage_records([json.loads(item) for item in moved])
    assert client.llen(queue.processing_key()) == 4

    assert tasks.drain_usage_queue() == 6  # the 4 again (idempotent), then 2 new

    assert UsageRecord.objects.filter(model_api=api).count() == 6
    assert UsageRollup.objects.get(model_api=api).input_tokens == 60
    assert queue.queue_depth() == 0


@redis_required()
def test_only_one_drain_runs_at_a_time(isolated_usage_queue, workspace, bare_model_api):
    api = bare_model_api(workspace)
    queue.enqueue([usage(api)])
    client = redis.sync_client()
    client.set(queue.lock_key(), "another drain", ex=30)

    assert tasks.drain_usage_queue() == 0
    assert queue.queue_depth() == 1

    client.delete(queue.lock_key())
    assert tasks.drain_usage_queue() == 1


@redis_required()
@pytest.mark.django_db(transaction=True)
def test_a_record_pushed_just_after_a_drain_started_gets_a_drain_of_its_own(
    celery_worker, workspace, bare_model_api
):
    """No Celery beat runs here: only the drains that pushes request write records. A
    record pushed a moment after a drain started (while the previous push's marker is
    still fresh) must not wait for the next beat."""
    api = bare_model_api(workspace)

    def pushed_and_written(record):
        queue.enqueue([record])
        wait_until(
            lambda: UsageRecord.objects.filter(request_id=record["request_id"]).exists(),
            timeout=30,
        )

    try:
        pushed_and_written(usage(api))  # the worker is up (its first task may wait for it)
        pushed_and_written(usage(api))  # a drain ran for this one ...
        pushed_and_written(usage(api))  # ... and this one arrives right after it
    finally:
        queue.drain_now(timeout=30)  # nothing left writing when the test ends
    assert UsageRecord.objects.filter(model_api=api).count() == 3


def _start_worker(queue_key: str, celery_queue: str, name: str):
    """A Celery worker with its beat (the production drain schedule, every second) on a
    queue of this test only."""
    log = (ROOT / "var" / f"celery-{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "blaxel_console", "worker", "--beat",
         "--loglevel=INFO", "--concurrency=1", "--pool=solo", "-Q", celery_queue,
         "--schedule", str(ROOT / "var" / f"beat-{name}"),
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=subprocess_env(
            USAGE_QUEUE_KEY=queue_key, CELERY_QUEUE=celery_queue, USAGE_DRAIN_INTERVAL="1"
        ),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process, log


def _stop(process, log):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@redis_required()
@pytest.mark.django_db(transaction=True)
def test_worker_down_then_up_every_record_arrives_exactly_once(
    isolated_usage_queue, workspace, bare_model_api
):
    api = bare_model_api(workspace)
    celery_queue = f"usage-{uuid.uuid4().hex[:8]}"
    sent = []

    def send(count):
        for _ in range(count):
            payload = usage(api, tokens=(2, 3))
            sent.append(payload["request_id"])
            queue.enqueue([payload])

    send(25)  # no worker yet: the records wait in Redis
    assert queue.queue_depth() == 25
    assert UsageRecord.objects.count() == 0

    process, log = _start_worker(isolated_usage_queue, celery_queue, "up-1")
    try:
        wait_until(lambda: UsageRecord.objects.count() == 25, timeout=60)
    finally:
        _stop(process, log)

    send(30)  # the worker is down again
    assert queue.queue_depth() == 30

    process, log = _start_worker(isolated_usage_queue, celery_queue, "up-2")
    try:
        wait_until(lambda: UsageRecord.objects.count() == 55, timeout=60)
        wait_until(lambda: queue.queue_depth() == 0)
    finally:
        _stop(process, log)

    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == sorted(sent)
    rollups = UsageRollup.objects.filter(model_api=api)
    assert sum(r.requests for r in rollups) == 55
    assert sum(r.total_tokens for r in rollups) == 55 * 5


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
