"""The gateway's usage recorder: what gathered on the event loop reaches Redis in one
go (token counts summed), records buffered when a process exits are still sent, and
with Redis unreachable the records go to its fallback, from a thread when the loop
is gone."""

import asyncio
import json
import subprocess
import sys
import uuid

import pytest

from blaxel_console import redis
from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import subprocess_env
from blaxel_console.testing.usage import redis_required, usage
from blaxel_console.testing.waiting import run_async
from models_api.usage import queue, storage
from models_api.usage.recorder import Recorder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


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
