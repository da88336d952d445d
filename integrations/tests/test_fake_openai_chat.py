"""The fake OpenAI server's chat and text completions, driven by the official `openai`
SDK (sync and async): OpenAI's shapes and headers, token counts, `max_tokens`, streams
with and without the usage chunk, the SSE bytes on the wire, required parameters."""

import asyncio

import httpx
import openai
import pytest

from integrations.fake_openai import ANSWER_WORDS

ANSWER = " ".join(ANSWER_WORDS)

USER_MESSAGE = [{"role": "user", "content": "Say hello to the tests"}]


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
