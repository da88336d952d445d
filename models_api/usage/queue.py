"""The durable usage queue in Redis, between the gateway and the database.

The gateway's recorder pushes each record onto a Redis list (RPUSH, no database work);
`drain()` — the `drain_usage_queue` task, run by Celery beat every
`USAGE_DRAIN_INTERVAL` seconds and requested early by pushes — moves a batch to a
processing list in one atomic step, writes it (`storage.store_usage_records`), and only
then drops the processing list. A drain that dies mid-batch leaves the batch in the
processing list and the next drain writes it again; the write skips records already
stored, so nothing is lost and nothing is counted twice. Redis unreachable: the record
is written directly.
"""

import json
import logging
import time
import uuid

from django.conf import settings

from blaxel_console import redis
from blaxel_console.throttled_log import warn_now_and_then

from .storage import record_payload, store_usage_records

logger = logging.getLogger(__name__)

# Moves up to ARGV[1] items from the queue (KEYS[1]) to the processing list (KEYS[2]) in one
# atomic step and returns them.
MOVE_SCRIPT = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('RPUSH', KEYS[2], unpack(items))
end
return items
"""
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _key(name: str) -> str:
    return redis.key(settings.USAGE_QUEUE_KEY, name)


def queue_key() -> str:
    return _key("queue")


def processing_key() -> str:
    return _key("processing")


def lock_key() -> str:
    return _key("drain-lock")


def trigger_key() -> str:
    return _key("drain-triggered")


# A push that finds no marker sets one for TRIGGER_INTERVAL_MS and requests a drain that
# starts a little after the marker expires: every record pushed while the marker lived is
# in the queue by then, and the first push after it expired requests the next drain. So
# no record waits for Celery beat, and pushes request at most a few drains a second.
TRIGGER_INTERVAL_MS = 500
DRAIN_DELAY_SECONDS = TRIGGER_INTERVAL_MS / 1000 + 0.1
# A requested drain that finds another drain running tries again this much later (the
# running one may already have read the queue for the last time).
BUSY_RETRY_SECONDS = 0.25


def push_commands(pipeline, payloads: list[dict]) -> None:
    """Queue the push of `payloads` on a Redis pipeline: RPUSH, then SET NX of the drain
    marker — whose reply (the pipeline's second, truthy when set) says to
    `request_drain(DRAIN_DELAY_SECONDS)`."""
    pipeline.rpush(queue_key(), *(json.dumps(payload) for payload in payloads))
    pipeline.set(trigger_key(), 1, nx=True, px=TRIGGER_INTERVAL_MS)


def enqueue(records) -> None:
    """Hand usage records (`UsageRecord`s or payload dicts) to the pipeline from sync
    code: one round trip to Redis; a direct write without Redis, or when Redis fails."""
    payloads = [record_payload(record) for record in records]
    if not payloads:
        return
    if not redis.is_configured():
        store_usage_records(payloads)
        return
    try:
        pipeline = redis.sync_client().pipeline(transaction=False)
        push_commands(pipeline, payloads)
        _, trigger = pipeline.execute()
    except redis.ERRORS:
        warn_now_and_then(logger, "usage queue unreachable: writing records directly")
        store_usage_records(payloads)
        return
    if trigger:
        request_drain(DRAIN_DELAY_SECONDS)


def request_drain(countdown: float | None = None) -> None:
    """The queue grew: ask a worker to drain it now rather than at the next beat."""
    from .tasks import drain_usage_queue  # the task module imports this one

    try:
        drain_usage_queue.apply_async(kwargs={"requested": True}, countdown=countdown)
    except Exception as error:  # the broker may be down too; the beat schedule drains later
        warn_now_and_then(logger, "could not request a usage drain (%s)", error)


def queue_depth() -> int | None:
    """Records waiting in Redis (queued + being written); None without Redis."""
    if not redis.is_configured():
        return None
    try:
        client = redis.sync_client()
        return int(client.llen(queue_key())) + int(client.llen(processing_key()))
    except redis.ERRORS:
        return None


def _next_batch(client) -> list[dict]:
    # First a batch a previous drain moved but did not finish, then a new one.
    items = client.lrange(processing_key(), 0, -1) or client.eval(
        MOVE_SCRIPT, 2, queue_key(), processing_key(), settings.USAGE_DRAIN_BATCH_SIZE
    )
    payloads = []
    for item in items:
        try:
            payloads.append(json.loads(item))
        except ValueError:
            logger.error("unreadable usage record dropped: %.200r", item)
    return payloads if items else None


def drain(max_batches: int = 50, requested: bool = False) -> int:
    """Write queued usage records in batches; returns how many were written. One drain
    runs at a time (a Redis lock); a scheduled one that finds the lock taken returns at
    once, a requested one (`requested`: records were pushed) tries again shortly."""
    if not redis.is_configured():
        return 0
    client = redis.sync_client()
    token = uuid.uuid4().hex
    if not client.set(lock_key(), token, nx=True, ex=settings.USAGE_DRAIN_LOCK_SECONDS):
        if requested:
            request_drain(BUSY_RETRY_SECONDS)
        return 0
    written, more = 0, False
    try:
        for _ in range(max_batches):
            payloads = _next_batch(client)
            if payloads is None:
                break
            store_usage_records(payloads)
            client.delete(processing_key())  # only now is the batch safely stored
            written += len(payloads)
            client.eval(RENEW_SCRIPT, 1, lock_key(), token, settings.USAGE_DRAIN_LOCK_SECONDS)
        else:
            more = True  # the batch budget ran out with records left
    finally:
        client.eval(RELEASE_SCRIPT, 1, lock_key(), token)
    if more and requested:
        request_drain()
    return written


def drain_now(timeout: float = 10.0) -> bool:
    """Write what is queued now, in this process, and wait for a drain running elsewhere
    to finish (tests, and `services.flush()`). True when the queue is empty within
    `timeout` seconds; always True without Redis (nothing is queued there)."""
    if not redis.is_configured():
        return True
    deadline = time.monotonic() + timeout
    client = redis.sync_client()
    while True:
        try:
            drain()
            idle = not client.exists(lock_key()) and not queue_depth()
        except redis.ERRORS:
            return False  # Redis is unreachable: nothing can be drained
        if idle:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
