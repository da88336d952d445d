"""The fake OpenAI server's test controls: the requests it recorded, configuration and
reset, delays (between chunks, before the first, before the answer), a client going
away, a stream broken off, the server stopped and restarted, coalesced streams, and
its command line."""

import subprocess
import sys
import time

import httpx
import openai
import pytest

from blaxel_console.readiness import wait_until_serving
from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import free_port
from blaxel_console.testing.waiting import wait_until
from integrations.fake_openai import ANSWER_WORDS, DEFAULT_KEY

USER_MESSAGE = [{"role": "user", "content": "Say hello to the tests"}]


def test_requests_are_recorded_with_headers_and_body(fake_openai):
    client = openai.OpenAI(
        base_url=fake_openai.base_url,
        api_key=fake_openai.key,
        organization="org-acme",
        project="proj_acme",
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER_MESSAGE)
    assert raw.headers["openai-organization"] == "org-acme"
    assert raw.headers["openai-project"] == "proj_acme"
    (seen,) = fake_openai.requests()
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == f"Bearer {fake_openai.key}"
    assert seen["headers"]["openai-organization"] == "org-acme"
    assert seen["headers"]["openai-project"] == "proj_acme"
    assert all(name == name.lower() for name in seen["headers"])
    assert seen["body"] == {"model": "gpt-4o", "messages": USER_MESSAGE}
    assert seen["status"] == 200
    assert seen["completed"] is True
    assert seen["cancelled"] is False

    fake_openai.configure(record=False)
    client.models.list()
    assert len(fake_openai.requests()) == 1
    fake_openai.reset()
    assert fake_openai.requests() == []


def test_config_validation_and_reset(fake_openai):
    with pytest.raises(ValueError, match="unknown options: chunks"):
        fake_openai.configure(chunks=3)
    with pytest.raises(ValueError, match="chunk_delay"):
        fake_openai.configure(chunk_delay=-1)
    with pytest.raises(ValueError, match="status"):
        fake_openai.configure(fail_next=[{"status": 200}])
    # A rejected configuration changes nothing.
    with pytest.raises(ValueError):
        fake_openai.configure(chunk_count=3, record="yes")
    assert fake_openai.configure()["chunk_count"] == 20
    assert fake_openai.configure(chunk_count=3)["chunk_count"] == 3
    fake_openai.reset()
    assert fake_openai.configure()["chunk_count"] == 20
    assert httpx.get(f"{fake_openai.url}/_fake/health").json() == {"status": "ok"}


def test_chunk_delay_streams_incrementally(fake_openai_client, fake_openai):
    fake_openai.configure(chunk_count=10, chunk_delay=0.05)
    arrivals = []
    stream = fake_openai_client.chat.completions.create(
        model="gpt-4o", messages=USER_MESSAGE, stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) == 10
    # The fake waits at least 9 × 50 ms between the first and last content chunk; a
    # buffered stream would deliver them together.
    assert arrivals[-1] - arrivals[0] >= 0.3
    (seen,) = fake_openai.requests()
    assert seen["first_chunk_at"] < seen["finished_at"]


def test_first_chunk_delay_keeps_headers_early(fake_openai):
    fake_openai.configure(first_chunk_delay=0.5, chunk_count=1)
    headers = {"Authorization": f"Bearer {fake_openai.key}"}
    body = {"model": "gpt-4o", "messages": USER_MESSAGE, "stream": True}
    with httpx.stream(
        "POST", f"{fake_openai.base_url}/chat/completions", headers=headers, json=body
    ) as response:
        headers_at = time.monotonic()
        assert response.status_code == 200
        next(response.iter_raw())
        first_chunk_at = time.monotonic()
    assert first_chunk_at - headers_at >= 0.3


def test_client_closing_mid_stream_is_recorded_as_cancelled(fake_openai):
    fake_openai.configure(chunk_count=20, chunk_delay=0.2)
    headers = {"Authorization": f"Bearer {fake_openai.key}"}
    body = {"model": "gpt-4o", "messages": USER_MESSAGE, "stream": True}
    with (
        httpx.Client() as http,
        http.stream(
            "POST", f"{fake_openai.base_url}/chat/completions", headers=headers, json=body
        ) as response,
    ):
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    # Leaving both blocks closed the connection after the first chunk.
    cancelled = wait_until(lambda: fake_openai.requests()[0]["cancelled"], timeout=10)
    assert cancelled is True
    (seen,) = fake_openai.requests()
    assert seen["completed"] is False


def test_response_delay_times_out_and_is_cancelled(fake_openai):
    fake_openai.configure(response_delay=5)
    client = openai.OpenAI(
        base_url=fake_openai.base_url, api_key=fake_openai.key, max_retries=0, timeout=0.3
    )
    with pytest.raises(openai.APITimeoutError):
        client.models.list()
    wait_until(lambda: fake_openai.requests()[0]["cancelled"], timeout=10)
    assert fake_openai.requests()[0]["status"] is None


def test_break_after_chunks_drops_the_connection(fake_openai):
    fake_openai.configure(chunk_count=10, break_after_chunks=3)
    headers = {"Authorization": f"Bearer {fake_openai.key}"}
    body = {"model": "gpt-4o", "messages": USER_MESSAGE, "stream": True}
    received = []
    with (
        pytest.raises(httpx.TransportError),
        httpx.stream(
            "POST", f"{fake_openai.base_url}/chat/completions", headers=headers, json=body
        ) as response,
    ):
        received.extend(line for line in response.iter_lines() if line)
    assert len(received) == 3
    assert fake_openai.requests()[0]["completed"] is False


def test_stopped_server_refuses_connections_then_comes_back(fake_openai, fake_openai_client):
    with fake_openai.stopped(), pytest.raises(openai.APIConnectionError):
        fake_openai_client.models.list()
    assert fake_openai_client.models.list().data


def test_coalesced_stream_sends_the_same_events(fake_openai_client, fake_openai):
    def content_of(stream):
        return [
            (chunk.choices[0].delta.content, chunk.choices[0].finish_reason)
            if chunk.choices
            else chunk.usage.total_tokens
            for chunk in stream
        ]

    options = {"stream": True, "stream_options": {"include_usage": True}}
    separate = content_of(
        fake_openai_client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE, **options)
    )
    fake_openai.configure(coalesce_streams=True)
    coalesced = content_of(
        fake_openai_client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE, **options)
    )
    assert coalesced == separate
    assert len(coalesced) == 23


def test_command_line_keys_no_record_and_initial_config():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.fake_openai", "--port", str(port),
         "--keys", "sk-one,sk-two", "--no-record", "--config", '{"chunk_count": 3}'],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/_fake/health", process=process)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-two", max_retries=0)
        answer = client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE)
        assert answer.choices[0].message.content == " ".join(ANSWER_WORDS[:3])
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key=DEFAULT_KEY, max_retries=0).models.list()
        assert httpx.get(f"{url}/_fake/requests").json() == []
        # A reset goes back to the command line's behaviour, not the built-in defaults.
        config = httpx.post(f"{url}/_fake/reset").json()
        assert config["chunk_count"] == 3
        assert config["keys"] == ["sk-one", "sk-two"]
        assert config["record"] is False
    finally:
        process.terminate()
        process.wait(timeout=10)
