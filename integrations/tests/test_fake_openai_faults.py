"""The fake's fault kinds (`fail_next` entries naming a `fault`), seen on the wire by a
raw HTTP client and by the official SDK: each does what its row of FAULT_KINDS says,
once per `count`, and the next request is answered normally."""

import httpx
import openai
import orjson
import pytest

from blaxel_console.testing.waiting import wait_until
from integrations.fake_openai import FAULT_KINDS, INVALID_SSE_EVENTS, parse_failure

USER_MESSAGE = [{"role": "user", "content": "Say hello to the tests"}]


def chat(fake_openai, *, stream=False, **body):
    return {
        "method": "POST",
        "url": f"{fake_openai.base_url}/chat/completions",
        "headers": {"Authorization": f"Bearer {fake_openai.key}"},
        "json": {"model": "gpt-4o", "messages": USER_MESSAGE, "stream": stream, **body},
    }


def test_entries_are_validated_against_the_table(fake_openai):
    assert parse_failure({"fault": "trickle"}) == {
        "fault": "trickle",
        "count": 1,
        "bytes": 8,
        "delay": 0.05,
    }
    assert parse_failure({"status": 429})["fault"] == "status"
    for bad in (
        {"fault": "meteor"},
        {"fault": "trickle", "bytes": 0},
        {"fault": "trickle", "colour": "red"},
        {"fault": "status"},
        {"count": 1},
    ):
        with pytest.raises(ValueError):
            fake_openai.configure(fail_next=[bad])
    assert set(FAULT_KINDS) >= {
        "status",
        "reset_after_headers",
        "reset_mid_stream",
        "trickle",
        "invalid_json",
        "invalid_sse",
        "large_answer",
        "no_answer",
    }


def test_reset_after_headers_sends_headers_and_no_body(fake_openai, fake_openai_client):
    fake_openai.configure(fail_next=[{"fault": "reset_after_headers"}])
    with httpx.Client() as http, http.stream(**chat(fake_openai)) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) > 0
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    # Once: the next call is answered.
    assert fake_openai_client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE)
    assert [seen["completed"] for seen in fake_openai.requests()] == [False, True]


def test_reset_mid_stream_cuts_a_stream_and_a_plain_answer(fake_openai):
    fake_openai.configure(fail_next=[{"fault": "reset_mid_stream", "after_chunks": 2, "count": 2}])
    events = []
    with (
        httpx.Client() as http,
        http.stream(**chat(fake_openai, stream=True)) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        events.extend(line for line in response.iter_lines() if line)
    assert len(events) == 2
    with httpx.Client() as http, http.stream(**chat(fake_openai)) as response:
        declared = int(response.headers["content-length"])
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            for part in response.iter_raw():
                received += part
    assert 0 < len(received) < declared


def test_trickle_dribbles_the_normal_answer(fake_openai, fake_openai_client):
    fake_openai.configure(fail_next=[{"fault": "trickle", "bytes": 50, "delay": 0.1}])
    with httpx.Client() as http, http.stream(**chat(fake_openai)) as response:
        parts = list(response.iter_raw())
    body = b"".join(parts)
    # About 14 pieces a tenth of a second apart: a busy client may read a few at once.
    assert len(parts) >= 3
    answer = orjson.loads(body)
    assert answer["usage"]["completion_tokens"] == 20
    assert answer["choices"][0]["message"]["content"].startswith("Hello from the fake")


def test_invalid_json_is_a_well_framed_200_with_a_broken_body(fake_openai, fake_openai_client):
    fake_openai.configure(fail_next=[{"fault": "invalid_json"}])
    response = httpx.request(**chat(fake_openai))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_invalid_sse_sends_malformed_events(fake_openai, fake_openai_client):
    fake_openai.configure(fail_next=[{"fault": "invalid_sse"}])
    response = httpx.request(**chat(fake_openai, stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    for event in INVALID_SSE_EVENTS:
        assert event in response.content
    assert response.content.endswith(b"data: [DONE]\n\n")
    fake_openai.configure(fail_next=[{"fault": "invalid_sse"}])
    with pytest.raises(ValueError):  # the SDK cannot parse it
        list(
            fake_openai_client.chat.completions.create(
                model="gpt-4o", messages=USER_MESSAGE, stream=True
            )
        )


def test_large_answer_plain_and_streamed(fake_openai, fake_openai_client):
    size = 3 * 1024 * 1024
    fake_openai.configure(fail_next=[{"fault": "large_answer", "size": size, "count": 2}])
    completion = fake_openai_client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE)
    content = completion.choices[0].message.content
    assert size <= len(content) < size + 64 * 1024
    assert completion.usage.completion_tokens == len(content.split())

    stream = fake_openai_client.chat.completions.create(
        model="gpt-4o",
        messages=USER_MESSAGE,
        stream=True,
        stream_options={"include_usage": True},
    )
    streamed, usage = 0, None
    for chunk in stream:
        if chunk.choices:
            streamed += len(chunk.choices[0].delta.content or "")
        usage = chunk.usage or usage
    assert streamed == len(content)
    assert usage.completion_tokens == completion.usage.completion_tokens


def test_no_answer_sends_nothing_until_the_client_gives_up(fake_openai):
    fake_openai.configure(fail_next=[{"fault": "no_answer"}])
    client = openai.OpenAI(
        base_url=fake_openai.base_url, api_key=fake_openai.key, max_retries=0, timeout=0.5
    )
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE)
    wait_until(lambda: fake_openai.requests()[0]["cancelled"])
    assert fake_openai.requests()[0]["status"] is None
