"""Every OpenAI endpoint the gateway forwards, driven by the official OpenAI SDK (sync
and async) against a live ASGI server (uvicorn) and the fake OpenAI server, plain and
streamed: the connection's key and configured model swapped in, the usage chunk
hidden unless asked for, a usage record per call; and the console's middleware
kept off the gateway's paths."""

import httpx
import pytest

from blaxel_console.testing.usage import wait_for_usage_records
from blaxel_console.testing.waiting import run_async

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]

PROMPT = "Say hello to me"  # four words: four prompt tokens for the fake


# --- every path, plain and streamed -----------------------------------------------------------


def test_chat_plain_uses_the_connection_key_and_the_configured_model(
    member_gateway_clients, fake_openai, member_key, member_user
):
    client, _ = member_gateway_clients
    answer = client.chat.completions.with_raw_response.create(
        model="gpt-4o",  # not the configured model: the gateway calls gpt-4o-mini
        messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"OpenAI-Organization": "org-caller-chosen", "Cookie": "sessionid=abc"},
    )
    completion = answer.parse()
    assert completion.choices[0].message.content.startswith("Hello from the fake")
    assert completion.model == "gpt-4o-mini"
    assert completion.usage.prompt_tokens == 4
    assert completion.usage.completion_tokens == 20
    # The provider's request id and rate-limit headers come back; no cookie does.
    assert answer.headers["x-request-id"].startswith("req_")
    assert answer.headers["x-ratelimit-remaining-requests"] == "9999"
    assert "set-cookie" not in answer.headers

    (seen,) = fake_openai.requests("/v1/chat/completions")
    assert seen["headers"]["authorization"] == f"Bearer {fake_openai.key}"
    assert seen["body"]["model"] == "gpt-4o-mini"
    flat = str(seen["headers"])
    assert member_key not in flat
    assert "cookie" not in seen["headers"]
    assert "sessionid" not in flat
    assert "org-caller-chosen" not in flat  # the caller may not pick the billed organization
    assert not any(name.startswith("x-blaxel") for name in seen["headers"])

    (record,) = wait_for_usage_records(1)
    assert record.status_code == 200
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (4, 20, 24)
    assert record.caller == member_user.email
    assert member_key.startswith(record.api_key_prefix) and record.api_key_prefix
    assert record.path == "v1/chat/completions"
    assert record.model_api_name == "my-gpt"
    assert record.connection_name == "openai-main"
    assert not record.streamed
    assert record.error_type == ""
    assert record.latency_ms > 0 and record.ttfb_ms is not None


def test_chat_streamed_without_include_usage_hides_the_usage_chunk(
    member_gateway_clients, fake_openai
):
    client, _ = member_gateway_clients
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.startswith("Hello from the fake") and len(text.split()) == 20
    # Every chunk the caller sees has choices: the usage-only chunk was removed.
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)

    (seen,) = fake_openai.requests("/v1/chat/completions")
    assert seen["body"]["stream_options"] == {"include_usage": True}
    (record,) = wait_for_usage_records(1)
    assert record.streamed
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (4, 20, 24)
    assert record.ttfb_ms is not None and record.ttfb_ms <= record.latency_ms


def test_chat_streamed_with_include_usage_keeps_the_usage_chunk(
    member_gateway_clients, fake_openai
):
    client, _ = member_gateway_clients
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 4
    assert chunks[-1].usage.completion_tokens == 20
    (record,) = wait_for_usage_records(1)
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (4, 20, 24)


def test_async_client_plain_and_streamed(member_gateway_clients):
    _, async_client = member_gateway_clients

    async def scenario():
        async with async_client:
            plain = await async_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
            )
            stream = await async_client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": PROMPT}],
                stream=True,
            )
            pieces = [chunk.choices[0].delta.content or "" async for chunk in stream]
            return plain, "".join(pieces)

    plain, streamed = run_async(scenario)
    assert plain.choices[0].message.content == streamed
    assert [record.streamed for record in wait_for_usage_records(2)] == [False, True]


def test_completions(member_gateway_clients):
    client, _ = member_gateway_clients
    answer = client.completions.create(model="whatever", prompt="Once upon a time")
    assert answer.choices[0].text.startswith("Hello")
    assert answer.model == "gpt-4o-mini"
    (record,) = wait_for_usage_records(1)
    assert (record.input_tokens, record.output_tokens) == (4, 20)


def test_completions_streamed(member_gateway_clients, fake_openai):
    client, _ = member_gateway_clients
    chunks = list(client.completions.create(model="x", prompt="Once upon a time", stream=True))
    assert "".join(chunk.choices[0].text for chunk in chunks if chunk.choices).startswith("Hello")
    assert all(chunk.choices for chunk in chunks)
    (record,) = wait_for_usage_records(1)
    assert record.streamed and (record.input_tokens, record.output_tokens) == (4, 20)


def test_embeddings(asgi_server, workspace, make_gateway_model_api, member_key, openai_clients):
    make_gateway_model_api(workspace, "embed", model="text-embedding-3-small")
    client, _ = openai_clients(asgi_server, member_key, model_api="embed")
    answer = client.embeddings.create(model="ignored", input=["one two three", "four five"])
    assert len(answer.data) == 2 and len(answer.data[0].embedding) == 1536
    assert answer.model == "text-embedding-3-small"
    (record,) = wait_for_usage_records(1)
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (5, 0, 5)


def test_responses_plain_and_streamed(member_gateway_clients):
    client, _ = member_gateway_clients
    plain = client.responses.create(model="gpt-4o-mini", input="Tell me a story")
    assert plain.output_text.startswith("Hello from the fake")
    assert plain.usage.input_tokens == 4
    events = list(
        client.responses.create(model="gpt-4o-mini", input="Tell me a story", stream=True)
    )
    assert events[-1].type == "response.completed"
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == plain.output_text
    first, second = wait_for_usage_records(2)
    assert (first.input_tokens, first.output_tokens, first.streamed) == (4, 20, False)
    assert (second.input_tokens, second.output_tokens, second.streamed) == (4, 20, True)


def test_models_lists_only_the_configured_model(member_gateway_clients, fake_openai):
    client, _ = member_gateway_clients
    models = client.models.list()
    assert [model.id for model in models.data] == ["gpt-4o-mini"]
    assert models.data[0].owned_by == "system"  # the provider's own entry
    assert len(fake_openai.requests("/v1/models")) == 1


def test_moderations(asgi_server, workspace, make_gateway_model_api, member_key, openai_clients):
    make_gateway_model_api(workspace, "moderate", model="omni-moderation-latest")
    client, _ = openai_clients(asgi_server, member_key, model_api="moderate")
    result = client.moderations.create(input="I will kill the process")
    assert result.results[0].flagged
    assert result.model == "omni-moderation-latest"


# --- the console is still the console ---------------------------------------------------------


def test_console_keeps_its_middleware_and_the_gateway_skips_it(
    asgi_server, acme_model_api, member_key, gateway_url
):
    console = httpx.get(f"{asgi_server}/accounts/login/")
    assert console.status_code == 200
    assert console.headers["x-frame-options"] == "DENY"  # XFrameOptionsMiddleware ran
    assert "csrftoken" in console.cookies

    gateway = httpx.get(
        f"{gateway_url(asgi_server)}/models", headers={"Authorization": f"Bearer {member_key}"}
    )
    assert gateway.status_code == 200
    assert "x-frame-options" not in gateway.headers
    assert "set-cookie" not in gateway.headers
    assert "vary" not in gateway.headers
