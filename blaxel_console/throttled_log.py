"""Warnings about an outage (Redis or the database unreachable) that every call meets:
one line now and then, never one traceback per call."""

import threading
import time

# One line per message this often is enough to see an outage and when it ended.
INTERVAL_SECONDS = 10.0

_lock = threading.Lock()
_last_warned: dict[str, tuple[float, int]] = {}


def warn_now_and_then(logger, message: str, *args) -> None:
    """Log `message` as a warning at most once every `INTERVAL_SECONDS` seconds (per
    message), with no traceback; the line says how many like it were left out."""
    now = time.monotonic()
    with _lock:
        last, skipped = _last_warned.get(message, (float("-inf"), 0))
        if now - last < INTERVAL_SECONDS:
            _last_warned[message] = (last, skipped + 1)
            return
        _last_warned[message] = (now, 0)
    if skipped:
        message += f" ({skipped} more like this since the last such line)"
    logger.warning(message, *args)
