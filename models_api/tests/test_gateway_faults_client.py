"""Faults on the caller's side of a live gateway (uvicorn started as in production, with
dev.py's `SERVER_OPTIONS`), against the fake OpenAI server: callers that hang up while
sending the body, while the provider thinks and mid-stream; slow-loris headers and
bodies; thousands of idle keep-alive connections.

For every case: the provider call, when there was one, is cancelled; exactly one usage
record says what happened; and the gateway process is back to what it held before — no
more file descriptors or TCP connections (`testing.resources`), no call in flight and no
more event-loop tasks (the gateway's gauges on `/metrics`).
"""

import socket
import threading
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from blaxel_console.testing.resources import CLIENTS, pid_of_server, snapshot
from blaxel_console.testing.servers import run_asgi_server
from blaxel_console.testing.usage import wait_for_usage_records
from blaxel_console.testing.waiting import wait_until
from dev import SERVER_OPTIONS

pytestmark = [
    pytest.mark.faults,
    pytest.mark.live,
    pytest.mark.usefixtures("usage_written_before_teardown"),
]

METRICS_TOKEN = "client-faults-metrics"
BODY_READ_TIMEOUT = 3  # GATEWAY_BODY_READ_TIMEOUT of the server under test
HEADERS_TIMEOUT = 10  # HTTP_HEADERS_TIMEOUT, production's
# --timeout-keep-alive: longer than production's 5 s, so that 2,000 answers are read
# before the first of their connections is closed.
KEEP_ALIVE_TIMEOUT = 15
PROMPT = "x" * 200  # 50 tokens at four characters a token, plus 4 for the message
PATH = "/run/acme/models/my-gpt/v1/chat/completions"


def chat_body(**extra) -> bytes:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
    return orjson.dumps({**body, **extra})


@pytest.fixture
def gateway(transactional_db, acme_model_api, fake_openai):
    """A live gateway started with production's server options (a shorter body deadline,
    so that the tests wait less)."""
    with run_asgi_server(
        server_options=[*SERVER_OPTIONS, "--timeout-keep-alive", str(KEEP_ALIVE_TIMEOUT)],
        GATEWAY_BODY_READ_TIMEOUT=BODY_READ_TIMEOUT,
        METRICS_TOKEN=METRICS_TOKEN,
    ) as url:
        yield url


def gauges(server: str) -> dict[str, float]:
    """The gateway process's gauges (calls in flight, event-loop tasks, …) by name."""
    text = httpx.get(
        f"{server}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    ).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("blaxel_gateway_") and "{" in line:
            name = line.split("{", 1)[0]
            values[name] = values.get(name, 0) + float(line.rsplit(" ", 1)[1])
    return values


class Held:
    """What the gateway process holds before a fault, and the wait for it to hold no more
    after: fds, TCP connections, calls in flight, event-loop tasks."""

    def __init__(self, server: str, key: str):
        self.server, self.key = server, key
        self.pid = pid_of_server(server)
        # A first call warms the caches and the pool to the provider: what any call leaves.
        assert self.call().status_code == 200
        self.tasks = gauges(server)["blaxel_gateway_event_loop_tasks"]
        self.baseline = snapshot(self.pid)

    def call(self, **extra) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        return httpx.post(
            f"{self.server}{PATH}", content=chat_body(**extra), headers=headers, timeout=30
        )

    def assert_back(self, timeout: float = 30) -> None:
        wait_until(
            lambda: gauges(self.server)["blaxel_gateway_calls_in_flight"] == 0, timeout=timeout
        )
        wait_until(
            lambda: gauges(self.server)["blaxel_gateway_event_loop_tasks"] <= self.tasks,
            timeout=timeout,
        )
        try:
            wait_until(lambda: not self.excess(), timeout=timeout)
        except AssertionError:
            raise AssertionError(f"the gateway holds more than before: {self.excess()}") from None

    def excess(self) -> dict:
        """What the process holds beyond the baseline, less the connections the database
        and Redis clients keep open in their pools: concurrent calls may grow those to
        the size their settings bound, which no fault changes."""
        excess = snapshot(self.pid).excess_over(self.baseline)
        pooled = [
            key
            for key in excess
            if key != "fds" and key == ("ESTABLISHED", key[1]) and key[1] in pooled_ports()
        ]
        grown = sum(excess.pop(key) for key in pooled)
        if excess.get("fds", 0) <= grown:
            excess.pop("fds", None)
        return excess


def pooled_ports() -> set[int]:
    """The ports of PostgreSQL and Redis, whose clients pool their connections."""
    from django.conf import settings

    ports = {int(settings.DATABASES["default"].get("PORT") or 5432)}
    if settings.REDIS_URL:
        ports.add(urlsplit(settings.REDIS_URL).port or 6379)
    return ports


@pytest.fixture
def held(gateway, member_key):
    return Held(gateway, member_key)


def open_connection(server: str) -> socket.socket:
    host, port = server.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    return connection


def request_head(key: str, content_length: int) -> bytes:
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def read_answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset, as when a
    trickling sender wrote after the close, ends it too)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def only_record(**filters):
    """The one usage record of the test's calls matching `filters` (the warm-up call's
    is a 200 and does not match)."""
    (record,) = wait_for_usage_records(1, **filters)
    return record


# --- callers that hang up ------------------------------------------------------------------------


def test_a_caller_hanging_up_while_sending_the_body_leaves_a_499_and_no_provider_call(
    held, member_key, fake_openai
):
    body = chat_body()
    connection = open_connection(held.server)
    connection.sendall(request_head(member_key, len(body)) + body[: len(body) // 2])
    # The call is admitted (headers) and reading its body when the caller goes.
    wait_until(lambda: gauges(held.server)["blaxel_gateway_calls_in_flight"] == 1)
    connection.close()
    record = only_record(status_code=499)
    assert record.error_type == "client_disconnected"
    assert len(fake_openai.requests("/v1/chat/completions")) == 1  # the warm-up call only
    held.assert_back()


def test_a_caller_hanging_up_while_the_provider_thinks_cancels_the_provider_call(
    held, member_key, fake_openai
):
    fake_openai.configure(response_delay=30)
    body = chat_body()
    connection = open_connection(held.server)
    connection.sendall(request_head(member_key, len(body)) + body)
    wait_until(lambda: len(fake_openai.requests("/v1/chat/completions")) == 2)
    connection.close()
    wait_until(lambda: fake_openai.requests("/v1/chat/completions")[-1]["cancelled"])
    record = only_record(status_code=499)
    assert record.error_type == "client_disconnected"
    assert record.ttfb_ms is None  # nothing reached the caller
    held.assert_back()


def test_a_caller_hanging_up_mid_stream_cancels_the_provider_and_counts_estimated_tokens(
    held, member_key, fake_openai
):
    fake_openai.configure(chunk_count=50, chunk_delay=0.2)
    headers = {"Authorization": f"Bearer {member_key}", "Content-Type": "application/json"}
    body = chat_body(stream=True, stream_options={"include_usage": True})
    with httpx.stream(
        "POST", f"{held.server}{PATH}", content=body, headers=headers, timeout=30
    ) as answer:
        assert answer.status_code == 200
        seen = b""
        for chunk in answer.iter_raw():
            seen += chunk
            if seen.count(b'"content":"') >= 4:  # the role chunk's "" and three deltas
                break
    wait_until(lambda: fake_openai.requests("/v1/chat/completions")[-1]["cancelled"])
    assert not fake_openai.requests("/v1/chat/completions")[-1]["completed"]
    record = only_record(status_code=499)
    assert record.error_type == "client_disconnected" and record.streamed
    # The hang-up estimate: the prompt's characters ÷ 4 + 4 for the message, and one
    # token per text delta relayed (at least the three the caller read, fewer than 50).
    assert record.tokens_estimated and record.input_tokens == 54
    assert 3 <= record.output_tokens < 50
    held.assert_back()


# --- slow callers --------------------------------------------------------------------------------


def trickle(connection: socket.socket, data: bytes, stop: threading.Event, interval=0.5):
    """Send `data` one byte every `interval` seconds until `stop` or the server hangs up."""
    for byte in data:
        if stop.wait(interval):
            return
        try:
            connection.sendall(bytes([byte]))
        except OSError:
            return


def test_slow_loris_bodies_are_cut_off_with_a_408_while_other_callers_are_served(
    held, member_key, fake_openai
):
    body = chat_body()
    stop = threading.Event()
    slow = []
    for _ in range(20):
        connection = open_connection(held.server)
        connection.sendall(request_head(member_key, len(body)) + body[:1])
        thread = threading.Thread(target=trickle, args=(connection, body[1:], stop))
        thread.start()
        slow.append((connection, thread))
    try:
        # While the twenty trickle, other callers get their answers.
        wait_until(lambda: gauges(held.server)["blaxel_gateway_calls_in_flight"] == 20)
        for _ in range(5):
            assert held.call().status_code == 200
        answers = [read_answer(connection) for connection, _ in slow]
    finally:
        stop.set()
        for connection, thread in slow:
            thread.join()
            connection.close()
    for answer in answers:
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
        error = orjson.loads(payload)["error"]
        assert error["code"] == "request_timeout" and error["type"] == "invalid_request_error"
        assert f"{BODY_READ_TIMEOUT} seconds" in error["message"]
    records = wait_for_usage_records(20, status_code=408)
    assert {record.error_type for record in records} == {"request_timeout"}
    assert len(fake_openai.requests("/v1/chat/completions")) == 1 + 5  # none of the slow
    held.assert_back()


def test_slow_loris_headers_and_endless_headers_are_closed_while_other_callers_are_served(
    held, member_key
):
    head = request_head(member_key, 2)
    stop = threading.Event()
    slow = []
    for _ in range(20):
        connection = open_connection(held.server)
        connection.sendall(head[:10])
        thread = threading.Thread(target=trickle, args=(connection, head[10:], stop))
        thread.start()
        slow.append((connection, thread))
    idle = [open_connection(held.server) for _ in range(20)]  # never send a byte
    try:
        wait_until(lambda: snapshot(held.pid).tcp(state="ESTABLISHED", remote_port=CLIENTS) >= 40)
        for _ in range(5):
            assert held.call().status_code == 200
        # The server closes each of them at the headers deadline, with no answer.
        assert [read_answer(connection) for connection, _ in slow] == [b""] * 20
        assert [read_answer(connection) for connection in idle] == [b""] * 20
    finally:
        stop.set()
        for connection, thread in slow:
            thread.join()
            connection.close()
        for connection in idle:
            connection.close()
    # Headers that never end are refused once they pass the size limit (64 KiB): 100 KiB
    # of them, sent at once, and nothing more (a write after the server's close would
    # make it reset the connection).
    padding = b"".join(f"X-Padding-{index}: {'a' * 1000}\r\n".encode() for index in range(100))
    endless = open_connection(held.server)
    endless.sendall(head.removesuffix(b"\r\n") + padding)
    answer = read_answer(endless)
    endless.close()
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    held.assert_back()


# --- many idle connections --------------------------------------------------------------------


def test_thousands_of_idle_connections_are_closed_and_new_callers_served(held, member_key):
    """2,000 connections are opened and left idle, 200 of them after one call each
    (keep-alive): the gateway holds them all, still answers a new caller, closes every
    one of them (the headers deadline, the keep-alive timeout), and its fds and
    connections return to what they were."""
    request = (
        request_head(member_key, 0)
        .replace(b"POST ", b"GET ")
        .replace(b"chat/completions", b"models")
    )
    connections = []
    try:
        for _ in range(2000):
            connections.append(open_connection(held.server))
        wait_until(
            lambda: snapshot(held.pid).tcp(state="ESTABLISHED", remote_port=CLIENTS) >= 2000,
            timeout=HEADERS_TIMEOUT - 2,
        )
        callers = connections[::10]
        for connection in callers:
            connection.sendall(request)
        for connection in callers:
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = connection.recv(65536)
                assert chunk, "closed before answering"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        assert held.call().status_code == 200
        # Then the server closes every one of them: each reads the end of its stream.
        for connection in connections:
            connection.settimeout(KEEP_ALIVE_TIMEOUT + HEADERS_TIMEOUT + 60)
            read_answer(connection)
    finally:
        for connection in connections:
            connection.close()
    held.assert_back()
