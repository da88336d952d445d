"""Child processes of the suite — the live ASGI server, the Celery worker, the fake
provider — and what they share with this process: the test database, this run's cache
keys and Celery queue, and upstreams on loopback allowed."""

import os
import socket
import subprocess
import sys
from contextlib import contextmanager

import pytest
from django.conf import settings

from blaxel_console.readiness import wait_until_serving

from .database import test_database_url
from .run import CELERY_QUEUE, ROOT, VAR_DIR

# Upstreams the suite's processes may call: the fake OpenAI server listens on loopback.
LOOPBACK = ["127.0.0.1", "localhost", "::1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(**overrides) -> dict:
    """The environment for a server or worker process sharing this test run's database,
    cache and queue."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "CELERY_QUEUE": CELERY_QUEUE,
        "UPSTREAM_ALLOWED_HOSTS": ",".join(LOOPBACK),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate, and kill when it has not exited after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def run_asgi_server(*, access_log: bool = False, server_options=(), **env_overrides):
    """uvicorn serving `blaxel_console.asgi:application` on a free port; yields its URL.
    Its output goes to `var/asgi-<port>.log` (`log_path_of(url)`). `server_options`:
    more uvicorn options (e.g. dev.py's `SERVER_OPTIONS`, as in production)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = subprocess_env(SITE_URL=url, **env_overrides)
    log = (VAR_DIR / f"asgi-{port}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "blaxel_console.asgi:application",
         "--host", "127.0.0.1", "--port", str(port),
         *(() if access_log else ("--no-access-log",)), *server_options],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # Generous: on a loaded CI machine, importing Django and the app can take 30 s.
        wait_until_serving(f"{url}/healthz", process=process, timeout=90, name="The ASGI server")
        yield url
    finally:
        stop_process(process)
        log.close()


def log_path_of(url: str):
    """The output file of the server `run_asgi_server` started at `url`."""
    return VAR_DIR / f"asgi-{url.rsplit(':', 1)[1]}.log"


@pytest.fixture
def asgi_server(transactional_db):
    """A live ASGI server on the test database (data must be committed: this fixture
    makes the test transactional)."""
    with run_asgi_server() as url:
        yield url
