"""Usage records of gateway calls (DESIGN.md §7).

One entry point, `record_usage(record)`, called by the gateway once per call after the
answer has been sent. It never blocks, never raises and never touches the database on
the caller's thread: records are queued and written in batches by a background thread
(`gateway.background`). Where the records go next (a Redis queue, rollups) can change
behind this function without the gateway noticing.
"""

import logging

from django.db import IntegrityError, transaction

from .gateway.background import writer
from .models import UsageRecord

logger = logging.getLogger(__name__)


def _write(records: list[UsageRecord]) -> None:
    try:
        with transaction.atomic():
            UsageRecord.objects.bulk_create(records, ignore_conflicts=True)
        return
    except IntegrityError:
        # One bad record (its workspace was deleted meanwhile) must not lose the others.
        pass
    for record in records:
        try:
            with transaction.atomic():
                UsageRecord.objects.bulk_create([record], ignore_conflicts=True)
        except IntegrityError:
            logger.warning("usage: record %s refused by the database", record.request_id)


_writer = writer("usage", _write)


def record_usage(record: UsageRecord) -> None:
    """Queue one usage record (an unsaved `UsageRecord`) for writing."""
    _writer.put(record)


def flush(timeout: float = 10.0) -> bool:
    """Wait until the records queued so far are written (tests, shutdown)."""
    return _writer.flush(timeout)
