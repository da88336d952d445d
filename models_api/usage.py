"""Usage records of gateway calls (DESIGN.md §7).

One entry point, `record_usage(record)`, called by the gateway once per call after the
answer has been sent. It never blocks, never raises and never touches the database on
the caller's thread: records are queued and written in batches by a background thread
(`gateway.background`), which hands them to the usage pipeline
(`models_api.usage_pipeline`: a durable Redis queue drained by Celery, or a direct write
in the embedded mode).
"""

import logging

from .gateway.background import writer
from .models import UsageRecord
from .usage_pipeline import drain_now, enqueue_usage_batch

logger = logging.getLogger(__name__)


def _write(records: list[UsageRecord]) -> None:
    # The usage pipeline: one RPUSH onto the durable Redis queue (a Celery task writes
    # the batch and its rollups), or — embedded mode, or Redis unreachable — a direct,
    # idempotent write with the rollups. Either way, off the caller's thread.
    enqueue_usage_batch(records)


_writer = writer("usage", _write)


def record_usage(record: UsageRecord) -> None:
    """Queue one usage record (an unsaved `UsageRecord`) for writing."""
    _writer.put(record)


def flush(timeout: float = 10.0) -> bool:
    """Wait until the records queued so far are written (tests, shutdown). With Redis,
    what the background thread queued there is drained in this process too."""
    return _writer.flush(timeout) and drain_now(timeout)
