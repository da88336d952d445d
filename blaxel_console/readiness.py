"""Waiting for a server this program just started to answer HTTP: the test suite's live
servers, `manage.py demo` and the benchmark all start uvicorn or the fake OpenAI server
in a child process and must not talk to it before it listens.

The URL is always one of our own child processes on loopback, never input from a user,
so this is not an upstream call: the SSRF-guarded client of the gateway (which refuses
loopback unless the deployment allows it) does not apply."""

import subprocess
import time

import httpx

# Per attempt: a server that accepted the connection answers a health check at once.
ATTEMPT_TIMEOUT_SECONDS = 2.0


class ServerNotServing(RuntimeError):
    """The server never answered: its process exited first (`exit_status` holds its exit
    status) or the time ran out (`exit_status` is None)."""

    def __init__(self, message: str, *, exit_status: int | None = None):
        super().__init__(message)
        self.exit_status = exit_status


def wait_until_serving(
    url: str,
    *,
    process: subprocess.Popen | None = None,
    timeout: float = 30.0,
    interval: float = 0.1,
    name: str = "The server",
) -> None:
    """Return once `url` answers with a status below 500 (a 5xx health check is a server
    still starting, or broken). Raise `ServerNotServing` when `process` (the server's
    process, when this program started it) exits first, or after `timeout` seconds;
    `name` says which server in the message."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise ServerNotServing(
                f"{name} exited with status {process.returncode} before answering {url}",
                exit_status=process.returncode,
            )
        try:
            if httpx.get(url, timeout=ATTEMPT_TIMEOUT_SECONDS).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise ServerNotServing(f"{name} did not answer {url} within {timeout:g} seconds")
        time.sleep(interval)
