"""Waiting in tests: for a condition another process or thread makes true, and for a
coroutine run to completion from synchronous test code."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor


def wait_until(condition, timeout: float = 15.0, interval: float = 0.1):
    """Poll `condition()` until truthy (work done by a worker or another process)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def run_async(awaitable, *args, **kwargs):
    """Run a coroutine (or `async_function(*args, **kwargs)`) to completion on a fresh
    event loop in another thread, and close the gateway's HTTP client of that loop.

    Not `asyncio.run()` in the test thread: once a test of the session has used a
    Playwright page, an event loop stays running in that thread, and asyncio.run() and
    async_to_sync() refuse to start there."""
    from models_api.gateway import upstream

    async def main():
        try:
            return await (awaitable(*args, **kwargs) if callable(awaitable) else awaitable)
        finally:
            await upstream.close_client()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, main()).result()
