"""The one way in to usage: `record_call(record, counters)`, called by the gateway once
per call after the answer has been sent, with the call's usage record and what it adds
to the policies' token counters. It never blocks, never raises and never touches the
database on the caller's thread:

* with Redis, the record and the counter increments join the event loop's buffer
  (`recorder`), which sends them to Redis in one pipeline every few milliseconds; a
  Celery task writes the queue to the database (`queue`, `tasks`);
* without Redis (embedded default), or when Redis fails, a background thread
  (`blaxel_console.background`) writes the records to the database in batches, and the
  counters are kept in-process (`blaxel_console.counters`).
"""

import atexit
import logging
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

from blaxel_console import counters, redis
from blaxel_console.background import writer
from models_api.models import ModelAPI
from workspaces.services import audit_log_record

from .models import PriceOverride
from .queue import drain_now, enqueue
from .recorder import Recorder
from .storage import record_payload

logger = logging.getLogger(__name__)

# Embedded mode, or Redis unreachable: an idempotent write with the rollups (or, if Redis
# is back meanwhile, one RPUSH onto the queue). Off the caller's thread.
_writer = writer("usage", enqueue)


def _write_in_background(payloads: list[dict]) -> None:
    for payload in payloads:
        _writer.put(payload)


recorder = Recorder(fallback=_write_in_background)
# A process that ends without the ASGI lifespan shutdown (which flushes it) still sends
# what is buffered; registered after the writer threads' own hook, so it runs before it.
atexit.register(recorder.flush, 5.0)


def record_call(record, counter_increments: Iterable[tuple[str, int, int]] = ()) -> None:
    """Record one call: its usage record (a JSON-ready dict of `UsageRecord` fields, as
    `storage.record_payload` makes, or an unsaved `UsageRecord`) and the `(key, amount,
    ttl)` increments it adds to windowed counters (`blaxel_console.counters`)."""
    increments = tuple(counter_increments)
    if redis.is_configured():
        payload = record if isinstance(record, dict) else record_payload(record)
        recorder.add(payload, increments)
        return
    _writer.put(record)
    if increments:
        counters.local.add(increments)


def flush(timeout: float = 10.0) -> bool:
    """Wait until the calls recorded so far are written (tests, shutdown). With Redis,
    what reached the queue is drained in this process too."""
    return recorder.flush(timeout) and _writer.flush(timeout) and drain_now(timeout)


async def aflush(timeout: float = 5.0) -> bool:
    """Send what the event loop buffered (the ASGI lifespan shutdown)."""
    return await recorder.aflush(timeout)


# --- a model API's own prices ---------------------------------------------------------------

PRICE_FIELDS = ("input_per_million", "output_per_million", "cached_input_per_million")


def _prices(override: PriceOverride | None) -> dict:
    return {
        field: None
        if override is None or getattr(override, field) is None
        else str(getattr(override, field))
        for field in PRICE_FIELDS
    }


@transaction.atomic
def set_price_override(
    *,
    model_api: ModelAPI,
    actor,
    input_per_million: Decimal,
    output_per_million: Decimal,
    cached_input_per_million: Decimal | None = None,
) -> PriceOverride:
    """Give a model API its own prices (USD per million tokens): its calls from now on
    cost these instead of the list price. Admins only (the caller checks)."""
    override = PriceOverride.objects.select_for_update().filter(model_api=model_api).first()
    before = _prices(override)
    created = override is None
    if created:
        override = PriceOverride(workspace=model_api.workspace, model_api=model_api)
    override.input_per_million = input_per_million
    override.output_per_million = output_per_million
    override.cached_input_per_million = cached_input_per_million
    override.stamp(actor, created=created)
    override.full_clean()
    override.save()
    after = _prices(override)
    audit_log_record(
        workspace=model_api.workspace,
        actor=actor,
        action="model_api.prices.set",
        target_type="model_api",
        target_label=model_api.name,
        changes={key: [before[key], after[key]] for key in after if before[key] != after[key]},
    )
    return override


@transaction.atomic
def clear_price_override(*, model_api: ModelAPI, actor) -> bool:
    """Back to the list price. False when the model API had no prices of its own."""
    override = PriceOverride.objects.select_for_update().filter(model_api=model_api).first()
    if override is None:
        return False
    audit_log_record(
        workspace=model_api.workspace,
        actor=actor,
        action="model_api.prices.clear",
        target_type="model_api",
        target_label=model_api.name,
        changes={key: [value, None] for key, value in _prices(override).items() if value},
    )
    override.delete()
    return True
