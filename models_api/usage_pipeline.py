"""The usage pipeline: from the gateway's call to a `UsageRecord` row and its rollup.

* With Redis (`REDIS_URL`): the gateway hands each record to a durable Redis list (one
  RPUSH, no database work); the `drain_usage_queue` task, run by Celery beat every
  `USAGE_DRAIN_INTERVAL` seconds (and triggered early when the queue grows), moves a batch
  to a processing list in one atomic step, writes it, and only then drops the processing
  list. A drain that dies mid-batch leaves the batch in the processing list and the next
  drain writes it again; the insert is idempotent on `request_id` and the rollups are
  recomputed from the rows, so nothing is lost and nothing is counted twice.
* Redis unreachable, or no Redis (embedded default): the record is written directly, in
  the process, after the response.
* Rollups: per model API and minute, recomputed from that minute's records in the same
  transaction as the insert, under a row lock, so concurrent writers cannot overwrite each
  other with stale sums.
* Retention: `purge_old_usage` (hourly) deletes records older than
  `USAGE_RETENTION_DAYS` and rollups older than `USAGE_ROLLUP_RETENTION_DAYS`.
"""

import json
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, OperationalError, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from workspaces.models import Workspace

from .enforcement import REDIS_ERRORS, async_redis, sync_redis, use_redis
from .models import ModelAPI, UsageRecord
from .policy_models import LATENCY_BUCKETS_MS, UsageRollup, latency_bucket_fields

logger = logging.getLogger(__name__)

RECORD_FIELDS = (
    "request_id",
    "time",
    "workspace_id",
    "model_api_id",
    "model_api_name",
    "caller",
    "api_key_prefix",
    "path",
    "status_code",
    "latency_ms",
    "ttfb_ms",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "streamed",
    "error_type",
    "connection_name",
)
# Error types the gateway gives calls that never got an answer from the provider.
UPSTREAM_ERROR_TYPES = ("upstream_unreachable", "upstream_timeout", "upstream_disconnected")
DRAIN_LOCK_TTL = 60  # seconds; renewed after every batch

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
    cache_prefix = settings.CACHES["default"].get("KEY_PREFIX") or "blaxel"
    return f"{cache_prefix}:{settings.USAGE_QUEUE_KEY}:{name}"


def queue_key() -> str:
    return _key("queue")


def processing_key() -> str:
    return _key("processing")


def lock_key() -> str:
    return _key("drain-lock")


# --- records --------------------------------------------------------------------------------


def record_payload(record) -> dict:
    """A usage record (a `UsageRecord`, saved or not, or a dict of its fields) as plain
    JSON-ready data. Fills in a request id and the time when missing."""
    if isinstance(record, UsageRecord):
        data = {field: getattr(record, field) for field in RECORD_FIELDS}
    else:
        data = {field: record.get(field) for field in RECORD_FIELDS}
        if data["workspace_id"] is None and record.get("workspace") is not None:
            data["workspace_id"] = record["workspace"].pk
        if data["model_api_id"] is None and record.get("model_api") is not None:
            data["model_api_id"] = record["model_api"].pk
    data["request_id"] = str(data["request_id"] or uuid.uuid4().hex)
    moment = data["time"] or timezone.now()
    data["time"] = moment.isoformat() if isinstance(moment, datetime) else str(moment)
    for field in ("input_tokens", "output_tokens", "total_tokens"):
        data[field] = int(data[field] or 0)
    for field in ("caller", "api_key_prefix", "path", "error_type", "connection_name"):
        data[field] = data[field] or ""
    data["streamed"] = bool(data["streamed"])
    return data


def _record_from_payload(payload: dict) -> UsageRecord:
    values = {field: payload.get(field) for field in RECORD_FIELDS}
    moment = values["time"]
    values["time"] = parse_datetime(moment) if isinstance(moment, str) else moment
    if timezone.is_naive(values["time"]):
        values["time"] = timezone.make_aware(values["time"], UTC)
    return UsageRecord(**values)


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


# --- writing --------------------------------------------------------------------------------


def store_usage_records(payloads: Iterable[dict]) -> int:
    """Write records (idempotent on `request_id`) and recompute their minutes' rollups.
    Records of a workspace deleted meanwhile are dropped. Returns how many were kept."""
    records = [_record_from_payload(payload) for payload in payloads]
    if not records:
        return 0
    # Looked up before the write transaction, so on SQLite the transaction starts with
    # its first write (no read-to-write lock upgrade that could deadlock).
    workspace_ids = set(
        Workspace.objects.filter(pk__in={r.workspace_id for r in records}).values_list(
            "pk", flat=True
        )
    )
    model_api_ids = set(
        ModelAPI.objects.filter(
            pk__in={r.model_api_id for r in records if r.model_api_id}
        ).values_list("pk", flat=True)
    )
    kept = []
    for record in records:
        if record.workspace_id not in workspace_ids:
            logger.warning(
                "usage record %s dropped: its workspace no longer exists", record.request_id
            )
            continue
        if record.model_api_id not in model_api_ids:
            record.model_api_id = None
        kept.append(record)
    try:
        _write(kept)
    except OperationalError:
        raise  # the database is down: the caller keeps the batch and retries
    except DatabaseError:
        # One bad record must not block the queue: write them one by one, drop the bad.
        logger.exception("usage batch refused; writing its %d records one by one", len(kept))
        for record in kept:
            try:
                _write([record])
            except OperationalError:
                raise
            except DatabaseError:
                logger.exception("usage record %s dropped", record.request_id)
    return len(kept)


@transaction.atomic
def _write(records: list[UsageRecord]) -> None:
    UsageRecord.objects.bulk_create(records, ignore_conflicts=True, batch_size=500)
    oldest_kept = timezone.now() - timedelta(days=settings.USAGE_RETENTION_DAYS)
    affected = {
        (record.workspace_id, record.model_api_name, _minute(record.time))
        for record in records
        if record.time >= oldest_kept
    }
    if affected:
        _recompute_rollups(affected)


def _bucket_filters() -> dict:
    filters, lower = {}, None
    for field, upper in zip(latency_bucket_fields(), LATENCY_BUCKETS_MS, strict=True):
        condition = Q() if lower is None else Q(latency_ms__gt=lower)
        if upper != float("inf"):
            condition &= Q(latency_ms__lte=upper)
        filters[field] = Count("id", filter=condition)
        lower = upper
    return filters


def _aggregates() -> dict:
    return {
        "requests": Count("id"),
        "requests_2xx": Count("id", filter=Q(status_code__gte=200, status_code__lt=300)),
        "requests_4xx": Count("id", filter=Q(status_code__gte=400, status_code__lt=500)),
        "requests_5xx": Count("id", filter=Q(status_code__gte=500)),
        "upstream_errors": Count("id", filter=Q(error_type__in=UPSTREAM_ERROR_TYPES)),
        "latency_sum_ms": Sum("latency_ms"),
        "ttfb_sum_ms": Sum("ttfb_ms"),
        "ttfb_count": Count("ttfb_ms"),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "total_tokens": Sum("total_tokens"),
        "latest_model_api_id": Max("model_api_id"),
        **_bucket_filters(),
    }


def _recompute_rollups(affected: set[tuple[int, str, datetime]]) -> None:
    """Recompute the rollups of the affected (workspace, model API, minute) from their
    records: a few queries per batch, whatever its size."""
    UsageRollup.objects.bulk_create(
        [
            UsageRollup(workspace_id=workspace_id, model_api_name=name, minute=minute)
            for workspace_id, name, minute in affected
        ],
        ignore_conflicts=True,
    )
    pairs = Q()
    for workspace_id, name in {(workspace_id, name) for workspace_id, name, _ in affected}:
        pairs |= Q(workspace_id=workspace_id, model_api_name=name)
    first = min(minute for _, _, minute in affected)
    last = max(minute for _, _, minute in affected) + timedelta(minutes=1)
    # Lock the rows (in a fixed order, so two writers cannot deadlock), then read: every
    # writer that held them before has committed, so the sums include its records.
    rollups = {
        (rollup.workspace_id, rollup.model_api_name, rollup.minute.astimezone(UTC)): rollup
        for rollup in UsageRollup.objects.select_for_update()
        .filter(pairs, minute__gte=first, minute__lt=last)
        .order_by("pk")
    }
    totals = (
        UsageRecord.objects.filter(pairs, time__gte=first, time__lt=last)
        .annotate(slot=TruncMinute("time"))
        .values("workspace_id", "model_api_name", "slot")
        .annotate(**_aggregates())
    )
    changed = []
    for row in totals:
        key = (row["workspace_id"], row["model_api_name"], row["slot"].astimezone(UTC))
        rollup = rollups.get(key)
        if rollup is None or key not in affected:
            continue
        for field in ROLLUP_FIELDS:
            setattr(rollup, field, row[field] or 0)
        rollup.model_api_id = row["latest_model_api_id"]
        changed.append(rollup)
    UsageRollup.objects.bulk_update(changed, [*ROLLUP_FIELDS, "model_api"], batch_size=500)


ROLLUP_FIELDS = (
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
    *latency_bucket_fields(),
)


# --- the queue ------------------------------------------------------------------------------


def trigger_key() -> str:
    return _key("drain-triggered")


# The enqueuing side asks for a drain when it finds no marker; a drain deletes the marker
# as it starts, so a record pushed after that start asks for the next drain and none waits
# for Celery beat. The marker's expiry only matters when a requested drain got lost.
TRIGGER_INTERVAL_MS = 500
# A requested drain that finds another drain running tries again this much later (the
# running one may already have read the queue for the last time).
BUSY_RETRY_SECONDS = 0.25


def _push_commands(pipeline, payloads: list[dict]) -> None:
    pipeline.rpush(queue_key(), *(json.dumps(payload) for payload in payloads))
    pipeline.set(trigger_key(), 1, nx=True, px=TRIGGER_INTERVAL_MS)


def enqueue_usage(record) -> None:
    """Hand one usage record to the pipeline (sync code). Never raises for Redis trouble:
    the record is then written directly."""
    enqueue_usage_batch([record])


def enqueue_usage_batch(records) -> None:
    """Hand usage records to the pipeline (the gateway's background writer): one round
    trip to Redis (RPUSH, plus a marker that asks a worker to drain soon); a direct write
    without Redis, or when Redis fails."""
    payloads = [record_payload(record) for record in records]
    if not payloads:
        return
    if not use_redis():
        store_usage_records(payloads)
        return
    try:
        pipeline = sync_redis().pipeline(transaction=False)
        _push_commands(pipeline, payloads)
        _, trigger = pipeline.execute()
    except REDIS_ERRORS:
        logger.warning("usage queue unreachable; writing %d records directly", len(payloads))
        store_usage_records(payloads)
        return
    if trigger:
        _trigger_drain()


async def aenqueue_usage(record) -> None:
    """`enqueue_usage` for async code: one awaited round trip; database work (embedded
    mode, or Redis down) runs in a thread."""
    payloads = [record_payload(record)]
    if not use_redis():
        await sync_to_async(store_usage_records)(payloads)
        return
    try:
        pipeline = async_redis().pipeline(transaction=False)
        _push_commands(pipeline, payloads)
        _, trigger = await pipeline.execute()
    except REDIS_ERRORS:
        logger.warning("usage queue unreachable; writing the record directly", exc_info=True)
        await sync_to_async(store_usage_records)(payloads)
        return
    if trigger:
        await sync_to_async(_trigger_drain, thread_sensitive=False)()


def _trigger_drain(countdown: float | None = None) -> None:
    """The queue grew: ask a worker to drain now rather than at the next beat."""
    try:
        drain_usage_queue.apply_async(kwargs={"requested": True}, countdown=countdown)
    except Exception:  # the broker may be down too; the beat schedule drains later
        logger.warning("could not trigger a usage drain", exc_info=True)


def queue_depth() -> int | None:
    """Records waiting in Redis (queued + being written); None without Redis."""
    if not use_redis():
        return None
    try:
        client = sync_redis()
        return int(client.llen(queue_key())) + int(client.llen(processing_key()))
    except REDIS_ERRORS:
        return None


@shared_task(name="models_api.drain_usage_queue", ignore_result=True)
def drain_usage_queue(max_batches: int = 50, requested: bool = False) -> int:
    """Write queued usage records in batches; returns how many were written. One drain
    runs at a time (a Redis lock); a scheduled one that finds the lock taken returns at
    once, a requested one (`requested`: records were pushed) tries again shortly."""
    if not use_redis():
        return 0
    client = sync_redis()
    token = uuid.uuid4().hex
    if not client.set(lock_key(), token, nx=True, ex=DRAIN_LOCK_TTL):
        if requested:
            _trigger_drain(countdown=BUSY_RETRY_SECONDS)
        return 0
    written, more = 0, False
    try:
        # Records pushed from now on find no marker and request a drain of their own.
        client.delete(trigger_key())
        for _ in range(max_batches):
            # First a batch a previous drain moved but did not finish, then new ones.
            items = client.lrange(processing_key(), 0, -1) or client.eval(
                MOVE_SCRIPT, 2, queue_key(), processing_key(), settings.USAGE_DRAIN_BATCH_SIZE
            )
            if not items:
                break
            payloads = []
            for item in items:
                try:
                    payloads.append(json.loads(item))
                except ValueError:
                    logger.error("unreadable usage record dropped: %.200r", item)
            store_usage_records(payloads)
            # Only now is the batch safely in the database.
            client.delete(processing_key())
            written += len(payloads)
            client.eval(RENEW_SCRIPT, 1, lock_key(), token, DRAIN_LOCK_TTL)
        else:
            more = True  # the batch budget ran out with records left
    finally:
        client.eval(RELEASE_SCRIPT, 1, lock_key(), token)
    if more and requested:
        _trigger_drain()
    return written


def drain_now(timeout: float = 10.0) -> bool:
    """Write what is queued now, in this process, and wait for a drain running elsewhere
    to finish (tests, and `usage.flush()`). True when the queue is empty within
    `timeout` seconds; always True without Redis (nothing is queued there)."""
    if not use_redis():
        return True
    deadline = time.monotonic() + timeout
    client = sync_redis()
    while True:
        drain_usage_queue()
        try:
            idle = not client.exists(lock_key()) and not queue_depth()
        except REDIS_ERRORS:
            return False
        if idle:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


# --- retention ------------------------------------------------------------------------------


def _delete_in_chunks(queryset, chunk: int = 5000) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


@shared_task(name="models_api.purge_old_usage", ignore_result=True)
def purge_old_usage(now: str | None = None) -> dict:
    """Delete records and rollups past their retention (`USAGE_RETENTION_DAYS`,
    `USAGE_ROLLUP_RETENTION_DAYS`)."""
    moment = parse_datetime(now) if now else timezone.now()
    records = _delete_in_chunks(
        UsageRecord.objects.filter(time__lt=moment - timedelta(days=settings.USAGE_RETENTION_DAYS))
    )
    rollups = _delete_in_chunks(
        UsageRollup.objects.filter(
            minute__lt=moment - timedelta(days=settings.USAGE_ROLLUP_RETENTION_DAYS)
        )
    )
    if records or rollups:
        logger.info("usage retention: %d records, %d rollups deleted", records, rollups)
    return {"records": records, "rollups": rollups}
