"""Token caps cannot be dodged by hanging up: a streamed call cut off before the
provider's usage chunk — by the caller or by the provider — counts an estimate of its
tokens (the prompt's text, and the text deltas relayed so far), marked as estimated in
the usage record, the logs and the API, and counted against token caps."""

import httpx
import openai
import pytest

from blaxel_console.testing.usage import wait_for_usage_records
from models_api.gateway.estimates import prompt_tokens, text_deltas
from models_api.policies import services as policy_services

pytestmark = [pytest.mark.usefixtures("usage_written_before_teardown")]

PROMPT = "x" * 200  # 50 tokens at four characters a token, plus 4 for the message


def test_prompt_tokens_are_estimated_from_the_prompts_text():
    chat = b'{"model":"m","messages":[{"role":"system","content":"abcd"},' + (
        b'{"role":"user","content":[{"type":"text","text":"abcdefgh"}]}]}'
    )
    assert prompt_tokens(chat) == 3 + 2 * 4  # 12 characters, two messages
    assert prompt_tokens(b'{"input":"abcdefgh","instructions":"abcd"}') == 3
    assert prompt_tokens(b"not json") == 0


def test_text_deltas_count_chat_and_responses_deltas():
    chunk = (
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n'
        b'data: {"type":"response.output_text.delta","delta":"!"}\n\n'
    )
    assert text_deltas(chunk) == 3


@pytest.mark.live
def test_a_caller_hanging_up_before_the_usage_chunk_counts_estimated_tokens(
    asgi_server, acme_model_api, member_key, fake_openai, member_api, gateway_url
):
    # Three content deltas 0.3 s apart, then the usage chunk: hang up after the third.
    fake_openai.configure(chunk_count=3, chunk_delay=0.3)
    url = f"{gateway_url(asgi_server)}/chat/completions"
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {member_key}"}
    with httpx.stream("POST", url, json=body, headers=headers, timeout=30) as answer:
        seen = b""
        for chunk in answer.iter_raw():
            seen += chunk
            if seen.count(b'"content":"') >= 4:  # the role chunk's "" and three deltas
                break
    (record,) = wait_for_usage_records(1)
    assert record.error_type == "client_disconnected"
    assert record.tokens_estimated
    assert (record.input_tokens, record.output_tokens) == (54, 4)
    (entry,) = member_api.get(f"/v0/models/{acme_model_api.name}/logs").json()["data"]
    assert entry["tokens"] == {
        "input": 54, "output": 4, "total": 58, "cachedInput": 0, "estimated": True,
    }  # fmt: skip
    assert entry["cost"]["estimated"] is True  # priced from the estimate


@pytest.mark.live
def test_a_provider_dropping_the_stream_counts_estimated_tokens_against_a_cap(
    asgi_server, acme_model_api, member_key, openai_clients, fake_openai, workspace, actor
):
    policy_services.policy_create(
        workspace=workspace,
        name="tiny",
        actor=actor,
        type="maxToken",
        granularity="day",
        max_total_tokens=50,
        is_workspace_default=True,
    )
    fake_openai.configure(chunk_count=10, break_after_chunks=3)
    client, _ = openai_clients(asgi_server, member_key)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    with pytest.raises(openai.APIError, match="broke off"):
        list(stream)
    (record,) = wait_for_usage_records(1)
    assert record.error_type == "upstream_disconnected" and record.tokens_estimated
    assert record.total_tokens > 50
    # The estimate counted against the cap: the next call is refused.
    fake_openai.configure(break_after_chunks=None)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
