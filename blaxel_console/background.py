"""Database writes off the response path: one daemon thread per writer, fed by a queue.

`put()` never blocks and never raises, so a slow or broken database cannot delay or
break a gateway call; the thread writes what has queued up in batches and logs (never
raises) failures.
"""

import atexit
import logging
import queue
import threading
from collections.abc import Callable

from django.db import close_old_connections

logger = logging.getLogger(__name__)


class BackgroundWriter:
    def __init__(
        self,
        name: str,
        write_batch: Callable[[list], None],
        *,
        max_batch: int = 500,
        max_queued: int = 100_000,
    ):
        self.name = name
        self.write_batch = write_batch
        self.max_batch = max_batch
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0

    def put(self, item) -> None:
        try:
            self._ensure_thread()
            self._queue.put_nowait(item)
        except queue.Full:
            # The database has fallen far behind; losing a record beats unbounded memory.
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.error("%s: queue full, %d items dropped so far", self.name, self.dropped)
        except Exception:
            logger.exception("%s: cannot queue an item", self.name)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown). True when
        done within `timeout` seconds."""
        if self._thread is None:
            return True
        done = threading.Event()

        def wait_for_queue():
            self._queue.join()
            done.set()

        threading.Thread(target=wait_for_queue, daemon=True).start()
        return done.wait(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"gateway-{self.name}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                close_old_connections()
                self.write_batch(batch)
            except Exception:
                logger.exception("%s: could not write %d items", self.name, len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()


_writers: list[BackgroundWriter] = []


def writer(name: str, write_batch: Callable[[list], None], **options) -> BackgroundWriter:
    """A writer whose queue is flushed when the process exits normally."""
    instance = BackgroundWriter(name, write_batch, **options)
    _writers.append(instance)
    return instance


def flush_all(timeout: float = 10.0) -> bool:
    return all(instance.flush(timeout) for instance in _writers)


atexit.register(flush_all, 5.0)
