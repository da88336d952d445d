"""The fake OpenAI server (`integrations/fake_openai.py`) as a session process, reset
before each test that uses it."""

import subprocess
import sys
from contextlib import contextmanager

import httpx
import pytest

from blaxel_console.readiness import wait_until_serving

from .run import ROOT, VAR_DIR
from .servers import free_port, stop_process, subprocess_env

FAKE_OPENAI_KEY = "sk-fake-valid-key"
FAKE_OPENAI_SECOND_KEY = "sk-fake-second-key"


class FakeOpenAIServer:
    """Handle on the fake OpenAI server process (see `integrations/fake_openai.py`)."""

    key = FAKE_OPENAI_KEY
    second_key = FAKE_OPENAI_SECOND_KEY

    def __init__(self, port: int, *, timeout_keep_alive: float | None = None):
        self.port = port
        # Seconds the fake keeps an idle keep-alive connection (uvicorn's default: 5).
        self.timeout_keep_alive = timeout_keep_alive
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (VAR_DIR / f"fake-openai-{self.port}.log").open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integrations.fake_openai", "--host", "127.0.0.1",
             "--port", str(self.port), "--keys", f"{self.key},{self.second_key}",
             *(("--timeout-keep-alive", str(self.timeout_keep_alive))
               if self.timeout_keep_alive is not None else ())],
            cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_until_serving(
            f"{self.url}/_fake/health", process=self.process, name="The fake OpenAI server"
        )

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
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
      `retry_after`) or `fail_next=[{"fault": "trickle", "bytes": 4}]` (the fault kinds of
      `integrations.fake_openai.FAULT_KINDS`), `break_after_chunks` (drop the connection
      mid-stream), `keys`, `models` (the catalog), `strict_models`, `record`. Bad options
      raise ValueError.
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


@pytest.fixture
def fake_openai_client(fake_openai):
    """The official OpenAI SDK's client of the fake server, with its valid key, no retries."""
    import openai

    return openai.OpenAI(base_url=fake_openai.base_url, api_key=fake_openai.key, max_retries=0)


@pytest.fixture
def fake_openai_async_client(fake_openai):
    """The official OpenAI SDK's async client of the fake server, with its valid key, no
    retries."""
    import openai

    return openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key=fake_openai.key, max_retries=0)
