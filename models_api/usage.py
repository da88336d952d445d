"""Usage records of gateway calls (DESIGN.md §7).

One entry point, `record_usage(record)`, called by the gateway once per call after the
answer has been sent. It never blocks, never raises and never touches the database on
the caller's thread:

* with Redis, the record joins the event loop's buffer (`gateway.recorder`), which goes
  to the durable usage queue in one pipeline every few milliseconds; a Celery task
  writes the queue to the database (`models_api.usage_pipeline`);
* without Redis (embedded default), or when Redis fails, a background thread
  (`gateway.background`) writes the records to the database in batches.
"""

import atexit
import logging

from .enforcement import use_redis
from .gateway.background import writer
from .gateway.recorder import Recorder
from .usage_pipeline import drain_now, enqueue_usage_batch, record_payload

logger = logging.getLogger(__name__)


def _write(records: list) -> None:
    # Embedded mode, or Redis unreachable: an idempotent write with the rollups (or, if
    # Redis is back meanwhile, one RPUSH onto the queue). Off the caller's thread.
    enqueue_usage_batch(records)


_writer = writer("usage", _write)


def _write_in_background(payloads: list[dict]) -> None:
    for payload in payloads:
        _writer.put(payload)


recorder = Recorder(fallback=_write_in_background)
# A process that ends without the ASGI lifespan shutdown (which flushes it) still sends
# what is buffered; registered after the writer threads' own hook, so it runs before it.
atexit.register(recorder.flush, 5.0)


def record_usage(record) -> None:
    """Queue one usage record (an unsaved `UsageRecord`, or a JSON-ready dict of its
    fields as `usage_pipeline.record_payload` makes) for writing."""
    if use_redis():
        recorder.add(record if isinstance(record, dict) else record_payload(record))
    else:
        _writer.put(record)


def flush(timeout: float = 10.0) -> bool:
    """Wait until the records queued so far are written (tests, shutdown). With Redis,
    what reached the queue is drained in this process too."""
    return recorder.flush(timeout) and _writer.flush(timeout) and drain_now(timeout)
