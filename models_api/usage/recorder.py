"""What a finished gateway call leaves behind: its usage record and, when a token cap
applies, its token counts.

With Redis, the event loop itself gathers them in one process-wide buffer and sends what
gathered every `GATEWAY_USAGE_FLUSH_SECONDS` (20 ms) in one pipeline: RPUSH of the
records onto the durable usage queue (`queue`), the marker that asks
a worker to drain it, and INCRBY of the token counters, summed per counter. A call costs
a list append; there is no thread hop. (Measured with bench/: the earlier design, a
daemon thread per writer fed by a queue, spent about 1 ms per call at one connection
handing the GIL back and forth, and halved the throughput at one connection.)

Without Redis (the embedded default), or when Redis fails, the records go to the usage
writer thread, which writes them to the database (`services`); token counts are then
kept in-process (`blaxel_console.counters`).

`flush()` (sync: tests, shutdown hooks) and `aflush()` (the ASGI lifespan shutdown)
send what is buffered at once, from any thread, even when the loop that buffered it is
gone.
"""

import asyncio
import logging
import threading
import time

from django.conf import settings

from blaxel_console import counters, redis
from blaxel_console.throttled_log import warn_now_and_then

from .queue import DRAIN_DELAY_SECONDS, push_commands, request_drain

logger = logging.getLogger(__name__)


class Recorder:
    def __init__(self, fallback):
        # `fallback(payloads)`: where records go when Redis cannot take them.
        self._fallback = fallback
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._tokens: dict[str, list[int]] = {}
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()  # sends under way

    def add(self, payload: dict | None, increments=()) -> None:
        """Buffer one call's usage record (a JSON-ready payload) and its token increments
        (`(key, amount, ttl)`); never raises, never blocks."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            if payload is not None:
                self._records.append(payload)
            for key, amount, ttl in increments:
                entry = self._tokens.setdefault(key, [0, 0])
                entry[0] += amount
                entry[1] = max(entry[1], ttl)
            scheduled = self._scheduled_on
            schedule = loop is not None and (scheduled is None or scheduled.is_closed())
            if schedule:
                self._scheduled_on = loop
        if loop is None:
            self._send_sync(*self._take())  # no event loop here (sync code): send it now
        elif schedule:
            loop.call_later(settings.GATEWAY_USAGE_FLUSH_SECONDS, self._start_flush)

    def _take(self) -> tuple[list[dict], dict[str, list[int]]]:
        with self._lock:
            records, tokens = self._records, self._tokens
            self._records, self._tokens = [], {}
            self._scheduled_on = None
            return records, tokens

    def _start_flush(self) -> None:
        records, tokens = self._take()
        if records or tokens:
            task = asyncio.get_running_loop().create_task(self._send(records, tokens))
            with self._lock:
                self._tasks.add(task)
            task.add_done_callback(self._forget)

    def _forget(self, task) -> None:
        with self._lock:
            self._tasks.discard(task)

    def _sends_under_way(self) -> list[asyncio.Task]:
        with self._lock:
            return [t for t in self._tasks if not t.done() and not t.get_loop().is_closed()]

    async def _send(self, records, tokens) -> None:
        try:
            pipeline = redis.async_client().pipeline(transaction=False)
            _queue_commands(pipeline, records, tokens)
            results = await pipeline.execute()
        except Exception as error:
            self._not_sent(records, tokens, error)
            return
        if records and results[1]:  # the marker was set: ask for a drain
            await asyncio.to_thread(request_drain, DRAIN_DELAY_SECONDS)

    def _send_sync(self, records, tokens) -> None:
        try:
            pipeline = redis.sync_client().pipeline(transaction=False)
            _queue_commands(pipeline, records, tokens)
            results = pipeline.execute()
        except Exception as error:
            self._not_sent(records, tokens, error)
            return
        if records and results[1]:
            request_drain(DRAIN_DELAY_SECONDS)

    def _not_sent(self, records, tokens, error: Exception) -> None:
        if isinstance(error, redis.ERRORS):
            warn_now_and_then(
                logger, "Redis unreachable: usage records written directly, token counts lost"
            )
        else:
            logger.error("usage: %d records could not be queued", len(records), exc_info=error)
        if records:
            self._fallback(records)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is buffered now (sync), and wait for sends under way. True when all
        went out within `timeout` seconds."""
        records, tokens = self._take()
        if records or tokens:
            self._send_sync(records, tokens)
        deadline = time.monotonic() + timeout
        while self._sends_under_way():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    async def aflush(self, timeout: float = 10.0) -> bool:
        """`flush()` for the event loop (ASGI lifespan shutdown)."""
        records, tokens = self._take()
        if records or tokens:
            await self._send(records, tokens)
        under_way = self._sends_under_way()
        if under_way:
            await asyncio.wait(under_way, timeout=timeout)
        return not self._sends_under_way()


def _queue_commands(pipeline, records: list[dict], tokens: dict[str, list[int]]) -> None:
    if records:
        push_commands(pipeline, records)  # RPUSH, then SET NX of the drain marker
    counters.add_pipelined(pipeline, ((key, amount, ttl) for key, (amount, ttl) in tokens.items()))
