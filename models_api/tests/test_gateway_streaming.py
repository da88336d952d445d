"""Streaming through a live gateway: chunks arrive as the provider sends them, a
caller going away (mid-stream or before the answer) cancels the provider's call, and
a provider breaking off a stream surfaces as an error, each with its usage record."""

import time

import openai
import pytest

from blaxel_console.testing.usage import wait_for_usage_records
from blaxel_console.testing.waiting import wait_until

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]

PROMPT = "Say hello to me"  # four words: four prompt tokens for the fake


def test_streamed_chunks_arrive_as_the_provider_sends_them(member_gateway_clients, fake_openai):
    client, _ = member_gateway_clients
    fake_openai.configure(chunk_count=5, chunk_delay=0.4)
    arrivals = []
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) == 5
    # Four delays of 0.4 s separate the first and the last chunk; a buffering gateway
    # would deliver them all at once at the end.
    assert arrivals[-1] - arrivals[0] > 1.0
    (seen,) = fake_openai.requests("/v1/chat/completions")
    assert seen["completed"] and not seen["cancelled"]


def test_disconnect_mid_stream_cancels_the_provider_call(member_gateway_clients, fake_openai):
    client, _ = member_gateway_clients
    fake_openai.configure(chunk_count=50, chunk_delay=0.2)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    iterator = iter(stream)
    next(iterator)
    next(iterator)
    stream.close()
    wait_until(lambda: fake_openai.requests("/v1/chat/completions")[0]["cancelled"], timeout=10)
    (seen,) = fake_openai.requests("/v1/chat/completions")
    assert not seen["completed"]
    (record,) = wait_for_usage_records(1)
    assert record.error_type == "client_disconnected"


def test_caller_giving_up_before_the_answer_cancels_the_provider_call(
    asgi_server, acme_model_api, member_key, openai_clients, fake_openai
):
    fake_openai.configure(response_delay=5)
    client, _ = openai_clients(asgi_server, member_key, timeout=1)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    wait_until(lambda: fake_openai.requests("/v1/chat/completions")[0]["cancelled"], timeout=10)
    (record,) = wait_for_usage_records(1)
    assert (record.status_code, record.error_type) == (499, "client_disconnected")


def test_provider_breaking_off_a_stream_surfaces_as_an_error(member_gateway_clients, fake_openai):
    client, _ = member_gateway_clients
    fake_openai.configure(chunk_count=10, break_after_chunks=3)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    with pytest.raises(openai.APIError, match="broke off"):
        list(stream)
    (record,) = wait_for_usage_records(1)
    assert record.error_type == "upstream_disconnected"
