"""The fake OpenAI server, driven by the official `openai` SDK (sync and async) exactly as
the gateway and the tests use it: shapes, streams, errors, delays, disconnects."""

import array
import asyncio
import base64
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
from integrations.fake_openai import ANSWER_WORDS, DEFAULT_KEY, mask_key

ANSWER = " ".join(ANSWER_WORDS)


USER_MESSAGE = [{"role": "user", "content": "Say hello to the tests"}]


# --- models ------------------------------------------------------------------------------------


def test_models_list_and_retrieve(fake_openai_client):
    models = {model.id: model for model in fake_openai_client.models.list()}
    for expected in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini", "text-embedding-3-small"):
        assert expected in models
    assert models["gpt-4o"].object == "model"
    assert models["gpt-4o"].owned_by == "system"
    assert models["gpt-4o"].created > 1_600_000_000

    assert fake_openai_client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError) as error:
        fake_openai_client.models.retrieve("gpt-nonexistent")
    assert error.value.code == "model_not_found"
    assert error.value.body["type"] == "invalid_request_error"


def test_catalog_and_strict_models_are_configurable(fake_openai, fake_openai_client):
    fake_openai.configure(models=["my-model", "gpt-4o"], strict_models=True)
    assert [model.id for model in fake_openai_client.models.list()] == ["my-model", "gpt-4o"]
    with pytest.raises(openai.NotFoundError) as error:
        fake_openai_client.chat.completions.create(model="gpt-4.1", messages=USER_MESSAGE)
    assert error.value.code == "model_not_found"
    fake_openai.configure(strict_models=False)
    answer = fake_openai_client.chat.completions.create(model="anything", messages=USER_MESSAGE)
    assert answer.model == "anything"


# --- chat ----------------------------------------------------------------------------------


def test_chat_plain(fake_openai_client):
    raw = fake_openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=USER_MESSAGE
    )
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["openai-version"] == "2020-10-01"
    assert int(raw.headers["openai-processing-ms"]) >= 0
    assert raw.headers["x-ratelimit-limit-requests"] == "10000"
    assert "x-ratelimit-remaining-tokens" in raw.headers
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    # Five words in the prompt, twenty in the answer.
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == 20
    assert completion.usage.total_tokens == 25


def test_chat_counts_content_parts_and_honours_max_tokens(fake_openai_client):
    messages = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "one two three"}]},
    ]
    completion = fake_openai_client.chat.completions.create(
        model="gpt-4o", messages=messages, max_completion_tokens=4
    )
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == 4
    assert completion.choices[0].message.content == " ".join(ANSWER_WORDS[:4])
    assert completion.choices[0].finish_reason == "length"


def test_chat_streamed_without_usage(fake_openai_client):
    chunks = list(
        fake_openai_client.chat.completions.create(
            model="gpt-4o", messages=USER_MESSAGE, stream=True
        )
    )
    # A role chunk, twenty content chunks, a finish chunk; no usage chunk.
    assert len(chunks) == 22
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert all(chunk.model == "gpt-4o" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


def test_chat_streamed_with_usage_only_when_asked(fake_openai_client, fake_openai):
    fake_openai.configure(chunk_count=7)
    chunks = list(
        fake_openai_client.chat.completions.create(
            model="gpt-4o",
            messages=USER_MESSAGE,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert len(chunks) == 1 + 7 + 1 + 1
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.prompt_tokens == 5
    assert usage_chunk.usage.completion_tokens == 7
    assert usage_chunk.usage.total_tokens == 12
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"

    explicitly_off = list(
        fake_openai_client.chat.completions.create(
            model="gpt-4o",
            messages=USER_MESSAGE,
            stream=True,
            stream_options={"include_usage": False},
        )
    )
    assert len(explicitly_off) == 9
    assert all(chunk.usage is None and chunk.choices for chunk in explicitly_off)


def test_chat_stream_wire_format(fake_openai):
    """Bytes on the wire: SSE `data:` events, `usage: null` while streaming with
    include_usage, and the `[DONE]` sentinel last."""
    fake_openai.configure(chunk_count=2)
    response = httpx.post(
        f"{fake_openai.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {fake_openai.key}"},
        json={
            "model": "gpt-4o",
            "messages": USER_MESSAGE,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["x-request-id"].startswith("req_")
    events = response.text.split("\n\n")
    assert events[-1] == ""
    assert events[-2] == "data: [DONE]"
    assert all(event.startswith("data: {") for event in events[:-2])
    assert all('"usage":null' in event for event in events[:-3])
    assert '"choices":[],"usage":{"prompt_tokens":5' in events[-3]


def test_chat_async_plain_and_streamed(fake_openai_async_client, fake_openai):
    fake_openai.configure(chunk_count=3)

    async def scenario():
        completion = await fake_openai_async_client.chat.completions.create(
            model="gpt-4.1", messages=USER_MESSAGE
        )
        stream = await fake_openai_async_client.chat.completions.create(
            model="gpt-4.1",
            messages=USER_MESSAGE,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        await fake_openai_async_client.close()
        return completion, chunks

    completion, chunks = asyncio.run(scenario())
    assert completion.choices[0].message.content == " ".join(ANSWER_WORDS[:3])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        completion.choices[0].message.content
    )
    assert chunks[-1].usage.completion_tokens == 3


def test_chat_requires_messages(fake_openai_client):
    with pytest.raises(openai.BadRequestError) as error:
        fake_openai_client.chat.completions.create(model="gpt-4o", messages=[])
    assert error.value.code == "missing_required_parameter"
    assert error.value.param == "messages"


# --- completions -------------------------------------------------------------------------------


def test_completions_plain_and_streamed(fake_openai_client):
    completion = fake_openai_client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Write a tagline"
    )
    assert completion.object == "text_completion"
    assert completion.choices[0].text == ANSWER
    assert completion.usage.prompt_tokens == 3
    assert completion.usage.completion_tokens == 20

    chunks = list(
        fake_openai_client.completions.create(
            model="gpt-3.5-turbo-instruct",
            prompt="Write a tagline",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(chunk.choices[0].text for chunk in chunks if chunk.choices) == ANSWER
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == 23

    without_usage = list(
        fake_openai_client.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="x", stream=True
        )
    )
    assert all(chunk.usage is None and chunk.choices for chunk in without_usage)


# --- embeddings ------------------------------------------------------------------------------


def test_embeddings_default_base64_decodes_to_floats(fake_openai_client, fake_openai):
    # The SDK asks for base64 unless told otherwise and decodes it itself.
    embedding = fake_openai_client.embeddings.create(
        model="text-embedding-3-small", input="hello world"
    )
    assert fake_openai.requests("/v1/embeddings")[-1]["body"]["encoding_format"] == "base64"
    vector = embedding.data[0].embedding
    assert len(vector) == 1536
    assert all(isinstance(value, float) for value in vector)
    assert abs(sum(value * value for value in vector) - 1.0) < 1e-3
    assert embedding.usage.prompt_tokens == 2

    as_floats = fake_openai_client.embeddings.create(
        model="text-embedding-3-small", input="hello world", encoding_format="float"
    )
    assert as_floats.data[0].embedding == vector


def test_embeddings_lists_dimensions_and_models(fake_openai_client):
    result = fake_openai_client.embeddings.create(
        model="text-embedding-3-large", input=["first text", "second", "first text"]
    )
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(len(item.embedding) == 3072 for item in result.data)
    assert result.data[0].embedding == result.data[2].embedding
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.total_tokens == 5

    small = fake_openai_client.embeddings.create(
        model="text-embedding-3-small", input=[1, 2, 3], dimensions=256, encoding_format="base64"
    )
    decoded = array.array("f", base64.b64decode(small.data[0].embedding))
    assert len(decoded) == 256
    assert small.usage.prompt_tokens == 3

    with pytest.raises(openai.BadRequestError) as error:
        fake_openai_client.embeddings.create(
            model="text-embedding-3-small", input="x", dimensions=0
        )
    assert error.value.param == "dimensions"


# --- responses ---------------------------------------------------------------------------------


def test_responses_plain(fake_openai_client):
    response = fake_openai_client.responses.create(
        model="gpt-4o", input="Tell me a story", instructions="Be short"
    )
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == "gpt-4o"
    assert response.output_text == ANSWER
    assert response.output[0].type == "message"
    assert response.usage.input_tokens == 6
    assert response.usage.output_tokens == 20
    assert response.usage.total_tokens == 26


def test_responses_stream_helper_yields_events_and_final_response(fake_openai_client, fake_openai):
    fake_openai.configure(chunk_count=5)
    with fake_openai_client.responses.stream(model="gpt-4o", input="hello there") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.output_text == " ".join(ANSWER_WORDS[:5])
    assert final.usage.input_tokens == 2
    assert final.usage.output_tokens == 5


def test_responses_wire_format_names_each_event(fake_openai):
    fake_openai.configure(chunk_count=1)
    response = httpx.post(
        f"{fake_openai.base_url}/responses",
        headers={"Authorization": f"Bearer {fake_openai.key}"},
        json={"model": "gpt-4o", "input": "hi", "stream": True},
    )
    events = [event for event in response.text.split("\n\n") if event]
    assert len(events) == 9
    for event in events:
        name_line, data_line = event.split("\n")
        name = name_line.removeprefix("event: ")
        assert data_line.startswith('data: {"type":"' + name + '"')


def test_responses_async_create_stream(fake_openai_async_client):
    async def scenario():
        stream = await fake_openai_async_client.responses.create(
            model="gpt-4o", input="hi", stream=True
        )
        events = [event async for event in stream]
        await fake_openai_async_client.close()
        return events

    events = asyncio.run(scenario())
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == ANSWER
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens == 20
    assert events[-1].response.output_text == ANSWER


def test_responses_max_output_tokens_is_incomplete(fake_openai_client):
    response = fake_openai_client.responses.create(model="gpt-4o", input="hi", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 16


# --- moderations -----------------------------------------------------------------------------


def test_moderations(fake_openai_client):
    result = fake_openai_client.moderations.create(input=["a kind sentence", "I will kill the bug"])
    assert result.id.startswith("modr-")
    assert result.model == "omni-moderation-latest"
    first, second = result.results
    assert first.flagged is False
    assert second.flagged is True
    assert second.categories.violence is True
    assert second.category_scores.violence > 0.5
    assert first.category_applied_input_types.violence == ["text"]


# --- auth and errors ---------------------------------------------------------------------------


def test_wrong_key_is_openais_401(fake_openai):
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-wrong-key1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as error:
        client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE)
    assert error.value.status_code == 401
    assert error.value.body == {
        "message": "Incorrect API key provided: sk-wro*******. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert error.value.response.headers["x-request-id"].startswith("req_")


def test_missing_key_and_key_masking(fake_openai):
    response = httpx.get(f"{fake_openai.base_url}/models")
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")
    long_key = "sk-proj-" + "x" * 40 + "ab12"
    assert mask_key(long_key) == "sk-proj-" + "*" * 40 + "ab12"
    assert "x" not in mask_key(long_key)


def test_second_key_and_configured_keys(fake_openai):
    second = openai.OpenAI(
        base_url=fake_openai.base_url, api_key=fake_openai.second_key, max_retries=0
    )
    assert second.models.list().data
    fake_openai.configure(keys=["sk-rotated"])
    with pytest.raises(openai.AuthenticationError):
        second.models.list()
    rotated = openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-rotated", max_retries=0)
    assert rotated.models.list().data


def test_injected_429_then_success(fake_openai, fake_openai_client):
    fake_openai.configure(fail_next=[{"status": 429, "count": 2}])
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as error:
            fake_openai_client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE)
        assert error.value.code == "rate_limit_exceeded"
        assert error.value.response.headers["retry-after"] == "1"
        assert error.value.response.headers["x-request-id"].startswith("req_")
    assert fake_openai_client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE).choices
    assert [request["status"] for request in fake_openai.requests()] == [429, 429, 200]


def test_injected_500_and_filters(fake_openai, fake_openai_client):
    fake_openai.configure(
        fail_next=[
            {"status": 500, "path": "/v1/embeddings"},
            {"status": 503, "key": fake_openai.second_key},
        ]
    )
    # Neither filter matches a chat call with the first key.
    assert fake_openai_client.chat.completions.create(model="gpt-4o", messages=USER_MESSAGE).choices
    with pytest.raises(openai.InternalServerError) as error:
        fake_openai_client.embeddings.create(model="text-embedding-3-small", input="x")
    assert error.value.status_code == 500
    assert error.value.body["type"] == "server_error"
    second = openai.OpenAI(
        base_url=fake_openai.base_url, api_key=fake_openai.second_key, max_retries=0
    )
    with pytest.raises(openai.InternalServerError) as error:
        second.models.list()
    assert error.value.status_code == 503
    assert second.models.list().data
    assert fake_openai.configure()["fail_next"] == []


def test_injected_error_body_can_be_overridden(fake_openai, fake_openai_client):
    fake_openai.configure(
        fail_next=[{"status": 429, "code": "insufficient_quota", "message": "No credit."}]
    )
    with pytest.raises(openai.RateLimitError) as error:
        fake_openai_client.models.list()
    assert error.value.code == "insufficient_quota"
    assert error.value.body["message"] == "No credit."


def test_unknown_path_and_invalid_json(fake_openai):
    headers = {"Authorization": f"Bearer {fake_openai.key}"}
    unknown = httpx.post(f"{fake_openai.base_url}/nothing/here", headers=headers, json={})
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {
            "message": "Invalid URL (POST /v1/nothing/here)",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    wrong_method = httpx.get(f"{fake_openai.base_url}/chat/completions", headers=headers)
    assert wrong_method.status_code == 404
    broken = httpx.post(
        f"{fake_openai.base_url}/chat/completions",
        headers={**headers, "Content-Type": "application/json"},
        content=b'{"model": "gpt-4o", ',
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("We could not parse the JSON body")
    assert broken.json()["error"]["type"] == "invalid_request_error"
    no_model = httpx.post(
        f"{fake_openai.base_url}/chat/completions", headers=headers, json={"messages": []}
    )
    assert no_model.status_code == 400
    assert no_model.json()["error"]["message"] == "you must provide a model parameter"
    empty = httpx.post(f"{fake_openai.base_url}/chat/completions", headers=headers)
    assert empty.status_code == 400
    assert empty.json()["error"]["message"] == "you must provide a model parameter"
    not_an_object = httpx.post(f"{fake_openai.base_url}/embeddings", headers=headers, json=[1])
    assert not_an_object.status_code == 400
    assert not_an_object.json()["error"]["type"] == "invalid_request_error"


# --- test controls -----------------------------------------------------------------------------


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
