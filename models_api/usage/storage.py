"""Writing usage records to the database: idempotent on `request_id`, with their
per-minute rollups in the same transaction.

* Rollups: per model API and minute, incremented by the records a batch adds (records
  already stored are skipped, so a batch written twice counts once); atomic
  `n = n + …` updates, so concurrent writers add up.
* A batch the database refuses is written record by record, so one bad record cannot
  block the queue; a database that is down (`OperationalError`) is the caller's to retry.
"""

import logging
import uuid
from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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
    "tokens_estimated",
    "streamed",
    "error_type",
    "connection_name",
    "provider",
    "model",
    "cached_input_tokens",
)
# Fields that are "" rather than NULL when a payload lacks them (queued before they existed).
TEXT_FIELDS = (
    "caller",
    "api_key_prefix",
    "path",
    "error_type",
    "connection_name",
    "provider",
    "model",
)
# Error types the gateway gives calls that never got an answer from the provider.
UPSTREAM_ERROR_TYPES = (
    "upstream_unreachable",
    "upstream_timeout",
    "upstream_disconnected",
    "upstream_invalid_response",
)
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
    for field in ("input_tokens", "output_tokens", "total_tokens", "cached_input_tokens"):
        data[field] = int(data[field] or 0)
    for field in TEXT_FIELDS:
        data[field] = data[field] or ""
    data["streamed"] = bool(data["streamed"])
    data["tokens_estimated"] = bool(data["tokens_estimated"])
    return data


def _record_from_payload(payload: dict) -> UsageRecord:
    values = {field: payload.get(field) for field in RECORD_FIELDS}
    # Records queued before a field existed lack it: its default, never a NULL.
    values["streamed"] = bool(values["streamed"])
    values["tokens_estimated"] = bool(values["tokens_estimated"])
    values["cached_input_tokens"] = int(values["cached_input_tokens"] or 0)
    for field in TEXT_FIELDS:
        values[field] = values[field] or ""
    moment = values["time"]
    values["time"] = parse_datetime(moment) if isinstance(moment, str) else moment
    if timezone.is_naive(values["time"]):
        values["time"] = timezone.make_aware(values["time"], UTC)
    return UsageRecord(**values)


def _price(records: list[UsageRecord]) -> None:
    """Each record's cost at the price in force when it ran: its model API's override,
    else the list price of its provider and model (none known: the cost stays None)."""
    overrides = {
        override.model_api_id: override.price
        for override in PriceOverride.objects.filter(
            model_api_id__in={r.model_api_id for r in records if r.model_api_id}
        )
    }
    for record in records:
        price = overrides.get(record.model_api_id) or pricing.list_price(
            record.provider, record.model, record.time
        )
        if price is not None:
            record.cost_nano_usd = price.cost_nano_usd(
                input_tokens=record.input_tokens or 0,
                output_tokens=record.output_tokens or 0,
                cached_input_tokens=record.cached_input_tokens,
            )


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


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
    _price(kept)
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
    unique = list({record.request_id: record for record in records}.values())
    try:
        # The usual case: none of them is stored yet (inside a savepoint, so that a
        # failure leaves the transaction usable).
        with transaction.atomic():
            _insert(unique)
        new = unique
    except IntegrityError:
        # Some are stored already (a batch written again after a drain died before it
        # could drop it): skip those, so the rollups count each record once. A record
        # the database refuses fails this insert too, and the caller writes the batch
        # one by one. (SQLite: the transaction is IMMEDIATE, so this read holds the
        # write lock already.)
        stored = set(
            UsageRecord.objects.filter(
                request_id__in=[record.request_id for record in unique]
            ).values_list("request_id", flat=True)
        )
        new = [record for record in unique if record.request_id not in stored]
        _insert(new)
    oldest_kept = timezone.now() - timedelta(days=settings.USAGE_RETENTION_DAYS)
    _add_to_rollups([record for record in new if record.time >= oldest_kept])


def _insert(records: list[UsageRecord]) -> None:
    """Insert records none of which is stored yet: PostgreSQL's COPY
    (measured with bench/: the drain's CPU per record went from 0.17 ms with Django's
    bulk INSERT, which quotes every value on the client, to 0.11 ms), else a bulk
    INSERT. A record the database refuses fails the whole insert (never silently
    skipped: the rollups count it)."""
    if not records:
        return
    if connection.vendor != "postgresql":
        UsageRecord.objects.bulk_create(records, batch_size=500)
        return
    fields = [field for field in UsageRecord._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(UsageRecord._meta.db_table)
    statement = f"COPY {table} ({columns}) FROM STDIN"
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,  # psycopg's errors as Django's, as execute() does
        cursor.cursor.copy(statement) as copy,
    ):
        for record in records:
            copy.write_row([getattr(record, field.attname) for field in fields])


def _add_to_rollups(records: list[UsageRecord]) -> None:
    """Add new records to their (workspace, model API, minute) rollups: the sums of the
    batch computed here, then one `UPDATE … SET n = n + …` per rollup touched, in a
    fixed order (so two writers cannot deadlock). The cost follows the batch, not the
    number of records already in those minutes."""
    sums: dict[tuple[int, str, datetime], dict] = {}
    for record in records:
        key = (record.workspace_id, record.model_api_name, _minute(record.time))
        total = sums.get(key)
        if total is None:
            total = sums[key] = dict.fromkeys(ROLLUP_SUM_FIELDS, 0)
            total["model_api_id"] = None
        total["requests"] += 1
        status = record.status_code or 0
        if 200 <= status < 300:
            total["requests_2xx"] += 1
        elif 400 <= status < 500:
            total["requests_4xx"] += 1
        elif status >= 500:
            total["requests_5xx"] += 1
        if record.error_type in UPSTREAM_ERROR_TYPES:
            total["upstream_errors"] += 1
        if record.latency_ms is not None:
            total["latency_sum_ms"] += record.latency_ms
            total[BUCKET_FIELDS[bisect_left(LATENCY_BUCKETS_MS, record.latency_ms)]] += 1
        if record.ttfb_ms is not None:
            total["ttfb_sum_ms"] += record.ttfb_ms
            total["ttfb_count"] += 1
        total["input_tokens"] += record.input_tokens or 0
        total["output_tokens"] += record.output_tokens or 0
        total["total_tokens"] += record.total_tokens or 0
        total["cost_nano_usd"] += record.cost_nano_usd or 0
        if record.model_api_id is not None:
            total["model_api_id"] = max(total["model_api_id"] or 0, record.model_api_id)
    if not sums:
        return
    keys = sorted(sums)
    UsageRollup.objects.bulk_create(
        [
            UsageRollup(workspace_id=workspace_id, model_api_name=name, minute=minute)
            for workspace_id, name, minute in keys
        ],
        ignore_conflicts=True,
    )
    for workspace_id, name, minute in keys:
        total = sums[(workspace_id, name, minute)]
        changes = {field: F(field) + total[field] for field in ROLLUP_SUM_FIELDS if total[field]}
        if total["model_api_id"] is not None:
            changes["model_api_id"] = total["model_api_id"]
        UsageRollup.objects.filter(
            workspace_id=workspace_id, model_api_name=name, minute=minute
        ).update(**changes)


BUCKET_FIELDS = latency_bucket_fields()


# --- retention ------------------------------------------------------------------------------


def _delete_in_chunks(queryset, chunk: int = 5000) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


def purge_old_usage(now: datetime | None = None) -> dict:
    """Delete records and rollups past their retention (`USAGE_RETENTION_DAYS`,
    `USAGE_ROLLUP_RETENTION_DAYS`)."""
    moment = now or timezone.now()
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
