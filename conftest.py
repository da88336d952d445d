"""Shared pytest fixtures: people and workspaces in both roles, API clients per role, a
live ASGI server (uvicorn in a subprocess, on the test database), a real Celery worker
when a broker is configured, and a Chromium page (Debian's chromium via Playwright)."""

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

# Playwright's sync API runs an event loop in the test thread; Django's ORM would then
# refuse synchronous queries from that thread. Tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import httpx
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct-horse-battery-staple-42"
RUN_ID = uuid.uuid4().hex[:8]


def pytest_configure(config):
    # Keep this run's cache keys and Celery queue apart from any other run's.
    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{RUN_ID}"
    from blaxel_console.celery import app

    app.conf.task_default_queue = f"test-{RUN_ID}"
    # ... and its test database, so that two runs on one machine never share one.
    database = settings.DATABASES["default"]
    test_settings = database.setdefault("TEST", {})
    if database["ENGINE"].endswith("sqlite3"):
        test_settings["NAME"] = str(ROOT / "var" / f"test-db-{RUN_ID}.sqlite3")
    else:
        test_settings["NAME"] = f"test_{database['NAME']}_{RUN_ID}"


def celery_is_eager() -> bool:
    return settings.CELERY_TASK_ALWAYS_EAGER


# --- people, workspaces, clients -----------------------------------------------------------


@pytest.fixture
def make_user(db):
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    def make(email: str, password: str = PASSWORD):
        user = get_user_model().objects.create_user(
            username=email.split("@")[0] + uuid.uuid4().hex[:6], email=email, password=password
        )
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        return user

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("ada@example.com")


@pytest.fixture
def member_user(make_user):
    return make_user("max@example.com")


@pytest.fixture
def outsider(make_user):
    return make_user("olga@other.example.com")


@pytest.fixture
def workspace(admin_user, member_user):
    """`acme`: admin_user is admin, member_user is member."""
    from workspaces.models import Membership
    from workspaces.permissions import Role
    from workspaces.services import workspace_create

    workspace = workspace_create(name="acme", display_name="Acme Corp", creator=admin_user)
    Membership.objects.create(workspace=workspace, user=member_user, role=Role.MEMBER)
    return workspace


@pytest.fixture
def other_workspace(outsider):
    """`globex`, where only `outsider` is a member (admin)."""
    from workspaces.services import workspace_create

    return workspace_create(name="globex", display_name="Globex", creator=outsider)


def _logged_in_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def admin_client(workspace, admin_user):
    return _logged_in_client(admin_user)


@pytest.fixture
def member_client(workspace, member_user):
    return _logged_in_client(member_user)


@pytest.fixture
def outsider_client(other_workspace, outsider):
    return _logged_in_client(outsider)


@pytest.fixture
def personal_key():
    """`personal_key(user) -> raw key`."""
    from workspaces.services import personal_api_key_create

    def make(user, name="test key", expires_in="never"):
        return personal_api_key_create(user=user, name=name, expires_in=expires_in)[1]

    return make


@pytest.fixture
def api_client_for(personal_key):
    """`api_client_for(user, workspace_name)`: a DRF client with the user's personal key
    and the workspace header set."""
    from rest_framework.test import APIClient

    def make(user, workspace_name: str | None = "acme"):
        client = APIClient()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {personal_key(user)}"}
        if workspace_name:
            headers["HTTP_X_BLAXEL_WORKSPACE"] = workspace_name
        client.credentials(**headers)
        return client

    return make


@pytest.fixture
def admin_api(workspace, admin_user, api_client_for):
    return api_client_for(admin_user, "acme")


@pytest.fixture
def member_api(workspace, member_user, api_client_for):
    return api_client_for(member_user, "acme")


@pytest.fixture
def outsider_api(workspace, other_workspace, outsider, api_client_for):
    """The outsider's key, aimed at `acme` (which they cannot reach)."""
    return api_client_for(outsider, "acme")


# --- processes: live ASGI server, Celery worker ----------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL for the test database (valid once the test database exists)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    credentials = quote(database.get("USER") or "")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"])
    host = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
    return f"postgres://{credentials}@{host}/{database['NAME']}"


def subprocess_env(**overrides) -> dict:
    """The environment for a server or worker process sharing this test run's database,
    cache and queue."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "CELERY_QUEUE": f"test-{RUN_ID}",
        "UPSTREAM_ALLOWED_HOSTS": "127.0.0.1,localhost,::1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextmanager
def run_asgi_server(**env_overrides):
    """uvicorn serving `blaxel_console.asgi:application` on a free port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = subprocess_env(SITE_URL=url, **env_overrides)
    log = (ROOT / "var" / f"asgi-{port}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "blaxel_console.asgi:application",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_http(f"{url}/healthz", process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def asgi_server(transactional_db):
    """A live ASGI server on the test database (data must be committed: this fixture
    makes the test transactional)."""
    with run_asgi_server() as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker on the test database when a broker is configured; nothing
    in the embedded default (tasks run eagerly)."""
    if celery_is_eager():
        yield None
        return
    log = (ROOT / "var" / "celery-worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "blaxel_console", "worker",
         "--loglevel=INFO", "--concurrency=2", "--pool=threads", "-Q", f"test-{RUN_ID}",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def run_async(awaitable, *args, **kwargs):
    """Run a coroutine (or `async_function(*args, **kwargs)`) to completion on a fresh
    event loop in another thread, and close the gateway's HTTP client of that loop.

    Not `asyncio.run()` in the test thread: once a test of the session has used a
    Playwright page, an event loop stays running in that thread, and asyncio.run() and
    async_to_sync() refuse to start there."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from models_api.gateway import upstream

    async def main():
        try:
            return await (awaitable(*args, **kwargs) if callable(awaitable) else awaitable)
        finally:
            await upstream.close_client()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, main()).result()


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


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left_on_the_test_database(django_db_setup, django_db_blocker):
    """Threads of this process (the gateway's cache loader, the usage writer) keep their
    own database connections; on PostgreSQL they would stop the test database from being
    dropped at the end of the session."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _clear_local_cache():
    """The in-process cache outlives a test's database; clear it (Redis keys are
    namespaced per run instead)."""
    from django.core.cache import cache

    if not settings.REDIS_URL:
        cache.clear()
    yield


# --- browser -------------------------------------------------------------------------------


# Module scope, not session: while Playwright's sync API is running, the main thread has
# a running event loop, so any later test calling asyncio.run() / async_to_sync fails.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


ARTIFACTS = ROOT / "test-artifacts"


def screenshot(page, name: str) -> Path:
    """Save a PNG under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- fake OpenAI server (integrations.fake_openai) -------------------------------------------

FAKE_OPENAI_KEY = "sk-fake-valid-key"
FAKE_OPENAI_SECOND_KEY = "sk-fake-second-key"


class FakeOpenAIServer:
    """Handle on the fake OpenAI server process (see `integrations/fake_openai.py`)."""

    key = FAKE_OPENAI_KEY
    second_key = FAKE_OPENAI_SECOND_KEY

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (ROOT / "var" / f"fake-openai-{self.port}.log").open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integrations.fake_openai", "--host", "127.0.0.1",
             "--port", str(self.port), "--keys", f"{self.key},{self.second_key}"],
            cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_for_http(f"{self.url}/_fake/health", self.process)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            self.start()

    @contextmanager
    def stopped(self):
        """The server is down inside the block (connections refused), and back up on the
        same port, with default behaviour and an empty log, afterwards."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def configure(self, **options) -> dict:
        """Set behaviour for the following requests; returns the whole configuration."""
        response = httpx.post(f"{self.url}/_fake/config", json=options, timeout=5)
        if response.status_code != 200:
            raise ValueError(response.json()["error"]["message"])
        return response.json()

    def reset(self) -> None:
        httpx.post(f"{self.url}/_fake/reset", timeout=5).raise_for_status()

    def requests(self, path: str | None = None) -> list[dict]:
        """The requests the fake saw, oldest first (optionally only those to `path`, e.g.
        "/v1/chat/completions")."""
        seen = httpx.get(f"{self.url}/_fake/requests", timeout=5).json()
        return [request for request in seen if path is None or request["path"] == path]


@pytest.fixture(scope="session")
def fake_openai_server():
    """The fake OpenAI process, started once per test session on a free port."""
    server = FakeOpenAIServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server):
    """A local fake of the OpenAI API speaking the real wire format, reset before each test.

    Attributes: `base_url` ("http://127.0.0.1:<port>/v1", what an OpenAI client or a
    connection's `baseUrl` takes), `url` (without /v1), `port`, `key` (accepted API key
    "sk-fake-valid-key"), `second_key` (a second accepted key, e.g. for a fallback
    connection); anything else gets OpenAI's 401 `invalid_api_key`.

    Methods:
    - `configure(**options) -> dict`: behaviour of the following requests until the next
      test: `chunk_count` (default 20), `chunk_delay`, `first_chunk_delay`,
      `response_delay` (seconds), `fail_next=[{"status": 429, "count": 1}]` (optional
      `path`, `key` to fail only matching requests; `message`, `type`, `code`,
      `retry_after`), `break_after_chunks` (drop the connection mid-stream), `keys`,
      `models` (the catalog), `strict_models`, `record`. Bad options raise ValueError.
    - `requests(path=None) -> list[dict]`: what the fake saw: `method`, `path`, `query`,
      `headers` (all, lower-case names), `body` (parsed JSON), `stream`, `status`,
      `completed`, `cancelled` (client went away first), `received_at`,
      `first_chunk_at`, `finished_at` (epoch seconds).
    - `reset()`: defaults and an empty log (done before each test).
    - `with fake_openai.stopped(): ...`: provider down inside the block (connection
      refused), restarted on the same port afterwards.
    """
    fake_openai_server.ensure_running()
    fake_openai_server.reset()
    return fake_openai_server


def pytest_collection_modifyitems(config, items):
    """Browser tests run last (stable order otherwise): while Chromium is open,
    Playwright's sync API keeps an event loop running in the test thread, and an
    `asyncio.run()` in a test after it would fail."""
    items.sort(key=lambda item: bool({"page", "browser"} & set(getattr(item, "fixturenames", ()))))
