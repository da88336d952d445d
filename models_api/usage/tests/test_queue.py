"""The usage queue and its drain: without Redis (or when it is unreachable) a record
is written at once; with Redis, records wait in the durable queue until drained, in
batches, by one drain at a time, losing and doubling nothing when a drain dies
mid-batch or the worker goes down and comes back, and a record pushed just after a
drain started gets a drain of its own."""

import json
import subprocess
import sys
import uuid

import pytest

from blaxel_console import redis
from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import subprocess_env
from blaxel_console.testing.usage import redis_required, usage
from blaxel_console.testing.waiting import wait_until
from models_api.usage import queue, storage, tasks
from models_api.usage.models import UsageRecord, UsageRollup

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


def test_without_redis_a_record_is_written_in_process(settings, workspace, bare_model_api):
    settings.REDIS_URL = ""
    api = bare_model_api(workspace)

    queue.enqueue([usage(api, request_id="req-embedded", tokens=(2, 2))])

    record = UsageRecord.objects.get(request_id="req-embedded")
    assert (record.model_api, record.total_tokens) == (api, 4)
    assert UsageRollup.objects.get(model_api=api).requests == 1


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
