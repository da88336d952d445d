"""Blaxel's base endpoint (`POST {RUN_URL}/{workspace}/models/{name}` with `{"inputs"}`)
and Blaxel's headers (`X-Blaxel-Authorization`, `X-Blaxel-Workspace`) on a live gateway
in front of the fake OpenAI server: text and usage back, plain and streamed, usage
recorded, policies enforced, a workspace header that disagrees with the path refused."""

import json

import httpx
import pytest

from blaxel_console.testing.usage import wait_for_usage_records
from blaxel_console.testing.waiting import wait_until
from models_api.policies import services as policy_services
from workspaces.principals import Principal

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]

PROMPT = "Say hello to me"  # four words: four prompt tokens for the fake


def base_url(server, workspace="acme", model_api="my-gpt"):
    return f"{server}/run/{workspace}/models/{model_api}"


def blaxel_headers(key, workspace="acme"):
    return {"X-Blaxel-Authorization": f"Bearer {key}", "X-Blaxel-Workspace": workspace}


def assert_openai_error(answer, status, code):
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]
    return error


def test_inputs_generate_text_with_the_configured_model(
    asgi_server, acme_model_api, member_key, member_user, fake_openai
):
    answer = httpx.post(
        base_url(asgi_server), json={"inputs": PROMPT}, headers=blaxel_headers(member_key)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["text"].startswith("Hello from the fake")
    assert body["model"] == "gpt-4o-mini"
    assert body["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 4 and body["usage"]["completion_tokens"] == 20
    assert answer.headers["x-blaxel-request-id"]
    (seen,) = fake_openai.requests("/v1/chat/completions")
    assert seen["body"]["model"] == "gpt-4o-mini"
    assert seen["body"]["messages"] == [{"role": "user", "content": PROMPT}]
    assert seen["headers"]["authorization"] == f"Bearer {fake_openai.key}"
    (record,) = wait_for_usage_records(1)
    assert record.status_code == 200 and record.caller == member_user.email
    assert (record.input_tokens, record.output_tokens) == (4, 20)


def test_streamed_inputs_send_text_deltas_then_usage(asgi_server, acme_model_api, member_key):
    with httpx.stream(
        "POST",
        base_url(asgi_server),
        json={"inputs": PROMPT, "stream": True, "parameters": {"max_new_tokens": 50}},
        headers={"Authorization": f"Bearer {member_key}"},
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in answer.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    payloads = [json.loads(event) for event in events[:-1]]
    *deltas, closing = payloads
    text = "".join(item["text"] for item in deltas)
    assert text.startswith("Hello from the fake") and len(text.split()) == 20
    assert closing["finish_reason"] == "stop"
    assert closing["usage"]["prompt_tokens"] == 4 and closing["usage"]["completion_tokens"] == 20
    (record,) = wait_for_usage_records(1)
    assert record.streamed and record.output_tokens == 20 and not record.tokens_estimated


@pytest.mark.parametrize(
    "body, param",
    [
        ({"prompt": "hi"}, "inputs"),
        ({"inputs": ""}, "inputs"),
        ({"inputs": ["a"]}, "inputs"),
        ({"inputs": "hi", "stream": "yes"}, "stream"),
        ({"inputs": "hi", "parameters": {"logit_bias": {}}}, "parameters"),
        ([1, 2], None),
    ],
)
def test_bad_bodies_are_openai_shaped_400s(asgi_server, acme_model_api, member_key, body, param):
    answer = httpx.post(
        base_url(asgi_server), json=body, headers={"Authorization": f"Bearer {member_key}"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def test_only_post_is_served(asgi_server, acme_model_api, member_key):
    answer = httpx.get(base_url(asgi_server), headers={"Authorization": f"Bearer {member_key}"})
    assert_openai_error(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "POST"


def test_callers_without_access_are_refused(
    asgi_server, acme_model_api, other_workspace, outsider, personal_key
):
    url = base_url(asgi_server)
    assert_openai_error(httpx.post(url, json={"inputs": PROMPT}), 401, "invalid_api_key")
    outsider_headers = {"Authorization": f"Bearer {personal_key(outsider)}"}
    answer = httpx.post(url, json={"inputs": PROMPT}, headers=outsider_headers)
    assert_openai_error(answer, 403, "no_access")
    missing = httpx.post(base_url(asgi_server, model_api="nope"), json={"inputs": PROMPT})
    assert missing.status_code == 401  # no key: nothing about the model API is told


def test_a_token_cap_applies_to_the_base_endpoint(
    asgi_server, workspace, admin_user, acme_model_api, member_key
):
    actor = Principal.for_user(admin_user)
    policy_services.policy_create(
        workspace=workspace,
        name="tiny-cap",
        actor=actor,
        type="maxToken",
        granularity="day",
        max_total_tokens=30,
    )
    policy_services.model_api_set_policies(
        model_api=acme_model_api, policy_names=["tiny-cap"], actor=actor
    )
    headers = {"Authorization": f"Bearer {member_key}"}

    def call():
        return httpx.post(base_url(asgi_server), json={"inputs": PROMPT}, headers=headers)

    assert call().status_code == 200  # 24 tokens: under the cap
    assert call().status_code == 200  # 48 once counted: the call that crosses completes
    refused = wait_until(lambda: (answer := call()).status_code == 429 and answer)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.headers["retry-after"]


# --- Blaxel's headers on every gateway path ----------------------------------------------------


@pytest.mark.parametrize("path", ["", "/v1/chat/completions"])
def test_a_workspace_header_that_disagrees_with_the_path_is_refused(
    asgi_server, acme_model_api, other_workspace, member_key, fake_openai, path
):
    body = {"inputs": PROMPT} if not path else {"messages": [{"role": "user", "content": "hi"}]}
    agreeing = httpx.post(
        base_url(asgi_server) + path, json=body, headers=blaxel_headers(member_key, "acme")
    )
    assert agreeing.status_code == 200, agreeing.text
    for named in ("globex", "nowhere"):
        answer = httpx.post(
            base_url(asgi_server) + path, json=body, headers=blaxel_headers(member_key, named)
        )
        assert_openai_error(answer, 403, "workspace_mismatch")
    assert len(fake_openai.requests("/v1/chat/completions")) == 1
