"""`wait_until_serving`: the one wait for a freshly started server (live test servers,
`manage.py demo`, the benchmark)."""

import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from blaxel_console.readiness import ServerNotServing, wait_until_serving

NOTHING_LISTENS = 9  # the discard port: connections refused on loopback


@contextmanager
def http_server(status: int = 200, start_after: float = 0.0):
    """A local HTTP server answering every GET with `status`; its port is taken at once
    (connections refused) and it listens after `start_after` seconds. Yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.server_bind()

    def serve():
        time.sleep(start_after)
        server.server_activate()
        server.serve_forever(poll_interval=0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()  # also when called before serve_forever() began: it then stops at once
        server.server_close()


@contextmanager
def child_process(code: str):
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_returns_once_the_server_answers():
    with http_server() as url:
        wait_until_serving(url, timeout=5)


def test_waits_for_a_server_that_starts_listening_later():
    with http_server(start_after=0.5) as url:
        started = time.monotonic()
        wait_until_serving(url, timeout=5)
        assert time.monotonic() - started >= 0.4


def test_a_process_that_exits_first_is_reported_with_its_exit_status():
    url = f"http://127.0.0.1:{NOTHING_LISTENS}/healthz"
    with (
        child_process("import sys; sys.exit(3)") as process,
        pytest.raises(ServerNotServing) as raised,
    ):
        wait_until_serving(url, process=process, timeout=10, name="The console")
    assert raised.value.exit_status == 3
    assert str(raised.value) == f"The console exited with status 3 before answering {url}"


def test_a_running_process_that_never_answers_times_out():
    url = f"http://127.0.0.1:{NOTHING_LISTENS}/healthz"
    with child_process("import time; time.sleep(30)") as process:
        started = time.monotonic()
        with pytest.raises(ServerNotServing) as raised:
            wait_until_serving(url, process=process, timeout=0.5, name="The fake")
    assert time.monotonic() - started < 5
    assert raised.value.exit_status is None
    assert str(raised.value) == f"The fake did not answer {url} within 0.5 seconds"


def test_a_server_error_is_not_serving_yet():
    with http_server(status=503) as url, pytest.raises(ServerNotServing, match="did not answer"):
        wait_until_serving(url, timeout=0.5)


def test_a_client_error_is_serving():
    # A health path the server does not know (404) still proves it listens and routes.
    with http_server(status=404) as url:
        wait_until_serving(url, timeout=5)
