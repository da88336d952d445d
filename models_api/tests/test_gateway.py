"""The gateway driven by the official OpenAI SDK (sync and async) against a live ASGI
server (uvicorn) and the fake OpenAI server: every forwarded path, streaming, the
credentials swap, usage records, errors and fallback."""

import json
import time
import uuid

import httpx
import openai
import pytest
from django.conf import settings as django_settings

from blaxel_console import redis
from blaxel_console.testing.observability import wait_for_usage_records
from blaxel_console.testing.servers import run_asgi_server
from blaxel_console.testing.waiting import run_async, wait_until
from models_api.usage import queue

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


# --- streaming behaviour --------------------------------------------------------------------


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


# --- errors --------------------------------------------------------------------------------


def test_bad_key_is_401(asgi_server, acme_model_api, openai_clients):
    client, _ = openai_clients(asgi_server, "bl_not-a-real-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


def test_no_key_is_401(asgi_server, acme_model_api, gateway_url):
    answer = httpx.post(f"{gateway_url(asgi_server)}/chat/completions", json={})
    assert answer.status_code == 401
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_key_without_access_to_the_workspace_is_403(
    asgi_server, acme_model_api, other_workspace, outsider, personal_key, openai_clients
):
    client, _ = openai_clients(asgi_server, personal_key(outsider))
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "no_access"


def test_service_account_key_reaches_only_its_workspace(
    asgi_server,
    acme_model_api,
    workspace,
    other_workspace,
    admin_user,
    openai_clients,
    make_gateway_model_api,
):
    from workspaces.principals import Principal
    from workspaces.services import service_account_api_key_create, service_account_create

    actor = Principal.for_user(admin_user)
    account = service_account_create(workspace=workspace, name="ci", actor=actor)
    _, raw_key = service_account_api_key_create(service_account=account, name="k", actor=actor)
    make_gateway_model_api(other_workspace, "my-gpt")
    own, _ = openai_clients(asgi_server, raw_key)
    assert own.models.list().data[0].id == "gpt-4o-mini"
    foreign, _ = openai_clients(asgi_server, raw_key, workspace="globex")
    with pytest.raises(openai.PermissionDeniedError):
        foreign.models.list()
    (record,) = wait_for_usage_records(1)
    assert record.caller == "service account ci"


def test_disabled_model_api_is_403(
    asgi_server, workspace, make_gateway_model_api, member_key, openai_clients
):
    make_gateway_model_api(workspace, "off", enabled=False)
    client, _ = openai_clients(asgi_server, member_key, model_api="off")
    with pytest.raises(openai.PermissionDeniedError, match="disabled") as caught:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_api_disabled"
    (record,) = wait_for_usage_records(1)
    assert (record.status_code, record.error_type) == (403, "model_api_disabled")


def test_unknown_workspace_is_403_like_one_out_of_reach(
    asgi_server, acme_model_api, member_key, openai_clients
):
    client, _ = openai_clients(asgi_server, member_key, workspace="nowhere")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.models.list()
    assert caught.value.code == "no_access"


def test_unknown_model_api_or_path_is_404(
    asgi_server, acme_model_api, member_key, openai_clients, gateway_url
):
    client, _ = openai_clients(asgi_server, member_key, model_api="nothing")
    with pytest.raises(openai.NotFoundError):
        client.models.list()
    headers = {"Authorization": f"Bearer {member_key}"}
    for url in (
        f"{gateway_url(asgi_server)}/audio/speech",
        f"{asgi_server}/run/acme/models/my-gpt/",
        f"{asgi_server}/run/acme/elsewhere",
    ):
        answer = httpx.post(url, headers=headers, json={})
        assert answer.status_code == 404, url
        assert answer.json()["error"]["type"] == "invalid_request_error"


def test_wrong_method_is_405(asgi_server, acme_model_api, member_key, gateway_url):
    answer = httpx.get(
        f"{gateway_url(asgi_server)}/chat/completions",
        headers={"Authorization": f"Bearer {member_key}"},
    )
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_provider_errors_pass_through_unchanged(member_gateway_clients, fake_openai):
    client, _ = member_gateway_clients
    fake_openai.configure(fail_next=[{"status": 429, "count": 1, "retry_after": 7}])
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "rate_limit_exceeded"
    assert "Rate limit reached" in caught.value.message
    assert caught.value.response.headers["retry-after"] == "7"

    fake_openai.configure(fail_next=[{"status": 500, "count": 1}])
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 500
    assert "had an error" in caught.value.message

    first, second = wait_for_usage_records(2)
    assert (first.status_code, first.error_type) == (429, "rate_limit_exceeded")
    assert (second.status_code, second.error_type) == (500, "server_error")


def test_provider_unreachable_is_502(member_gateway_clients, fake_openai):
    client, _ = member_gateway_clients
    with fake_openai.stopped(), pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unreachable"
    (record,) = wait_for_usage_records(1)
    assert (record.status_code, record.error_type) == (502, "upstream_unreachable")


def test_provider_timeout_is_504(
    transactional_db, acme_model_api, member_key, openai_clients, fake_openai
):
    from blaxel_console.testing.servers import run_asgi_server

    fake_openai.configure(response_delay=3)
    with run_asgi_server(GATEWAY_READ_TIMEOUT="0.5") as server:
        client, _ = openai_clients(server, member_key)
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 504
        assert caught.value.code == "upstream_timeout"


def test_body_over_the_limit_is_413(
    transactional_db, acme_model_api, member_key, openai_clients, fake_openai
):
    from blaxel_console.testing.servers import run_asgi_server

    with run_asgi_server(GATEWAY_MAX_BODY_BYTES="2000") as server:
        client, _ = openai_clients(server, member_key)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model="x", messages=[{"role": "user", "content": "word " * 1000}]
            )
        assert caught.value.status_code == 413
        assert caught.value.code == "request_too_large"
        # Under the limit still works.
        small = client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}]
        )
        assert small.choices
    assert fake_openai.requests("/v1/chat/completions")[0]["body"]["messages"][0]["content"] == "hi"


def test_body_that_is_not_json_is_400(
    member_gateway_clients, asgi_server, member_key, gateway_url, fake_openai
):
    answer = httpx.post(
        f"{gateway_url(asgi_server)}/chat/completions",
        headers={"Authorization": f"Bearer {member_key}", "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert answer.status_code == 400
    assert fake_openai.requests("/v1/chat/completions") == []


# --- fallback -------------------------------------------------------------------------------


def test_fallback_when_the_first_connection_answers_5xx(
    asgi_server, workspace, make_gateway_model_api, member_key, openai_clients, fake_openai
):
    make_gateway_model_api(
        workspace,
        "my-gpt",
        connections=[
            ("first", fake_openai.base_url, fake_openai.key),
            ("second", fake_openai.base_url, fake_openai.second_key),
        ],
    )
    fake_openai.configure(fail_next=[{"status": 500, "count": 1, "key": fake_openai.key}])
    client, _ = openai_clients(asgi_server, member_key)
    answer = client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices
    first, second = fake_openai.requests("/v1/chat/completions")
    assert first["status"] == 500 and first["headers"]["authorization"].endswith(fake_openai.key)
    assert second["status"] == 200
    assert second["headers"]["authorization"].endswith(fake_openai.second_key)
    (record,) = wait_for_usage_records(1)
    assert (record.status_code, record.connection_name) == (200, "second")


def test_fallback_when_the_first_connection_is_down(
    asgi_server, workspace, make_gateway_model_api, member_key, openai_clients, fake_openai
):
    from blaxel_console.testing.servers import free_port

    make_gateway_model_api(
        workspace,
        "my-gpt",
        connections=[
            ("down", f"http://127.0.0.1:{free_port()}/v1", "sk-nobody-listens"),
            ("up", fake_openai.base_url, fake_openai.key),
        ],
    )
    client, _ = openai_clients(asgi_server, member_key)
    stream = client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream).startswith("Hello")
    (record,) = wait_for_usage_records(1)
    assert record.connection_name == "up"


def test_last_connection_error_is_returned_when_all_fail(
    asgi_server, workspace, make_gateway_model_api, member_key, openai_clients, fake_openai
):
    make_gateway_model_api(
        workspace,
        "my-gpt",
        connections=[
            ("first", fake_openai.base_url, fake_openai.key),
            ("second", fake_openai.base_url, fake_openai.second_key),
        ],
    )
    fake_openai.configure(fail_next=[{"status": 429, "count": 2}])
    client, _ = openai_clients(asgi_server, member_key)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert len(fake_openai.requests("/v1/chat/completions")) == 2


def test_connection_organization_header_is_sent(
    asgi_server, workspace, make_gateway_model_api, member_key, openai_clients, fake_openai
):
    make_gateway_model_api(workspace, "my-gpt", organization="org-workspace")
    client, _ = openai_clients(asgi_server, member_key)
    answer = client.chat.completions.with_raw_response.create(
        model="x", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.headers["openai-organization"] == "org-workspace"
    (seen,) = fake_openai.requests("/v1/chat/completions")
    assert seen["headers"]["openai-organization"] == "org-workspace"


# --- credentials: both header forms, the Playground's session -------------------------------------


def test_blaxel_headers_alone_authenticate(asgi_server, acme_model_api, member_key, gateway_url):
    answer = httpx.post(
        f"{gateway_url(asgi_server)}/chat/completions",
        headers={"X-Blaxel-Authorization": f"Bearer {member_key}", "X-Blaxel-Workspace": "acme"},
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200
    assert answer.json()["model"] == "gpt-4o-mini"


CSRF_SECRET = "a" * 16 + "B" * 16  # a well-formed 32-character CSRF secret


def _session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    browser = Client()
    browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def test_playground_session_needs_the_csrf_token(
    asgi_server, acme_model_api, member_user, outsider, other_workspace, gateway_url, fake_openai
):
    url = f"{gateway_url(asgi_server)}/chat/completions"
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    session = _session_cookie(member_user)
    cookies = {"sessionid": session, "csrftoken": CSRF_SECRET}

    with_token = httpx.post(url, cookies=cookies, headers={"X-CSRFToken": CSRF_SECRET}, json=body)
    assert with_token.status_code == 200
    assert "data: [DONE]" in with_token.text
    seen = fake_openai.requests("/v1/chat/completions")[0]
    assert "cookie" not in seen["headers"] and "x-csrftoken" not in seen["headers"]

    without_token = httpx.post(url, cookies=cookies, json=body)
    assert without_token.status_code == 403
    assert without_token.json()["error"]["code"] == "csrf_failed"

    wrong_token = httpx.post(url, cookies=cookies, headers={"X-CSRFToken": "b" * 32}, json=body)
    assert wrong_token.status_code == 403

    cross_site = httpx.post(
        url,
        cookies=cookies,
        headers={"X-CSRFToken": CSRF_SECRET, "Origin": "https://evil.example"},
        json=body,
    )
    assert cross_site.status_code == 403

    expired = httpx.post(
        url,
        cookies={"sessionid": "no-such-session", "csrftoken": CSRF_SECRET},
        headers={"X-CSRFToken": CSRF_SECRET},
        json=body,
    )
    assert expired.status_code == 401

    # A signed-in person still needs access to the workspace.
    outsider_cookies = {"sessionid": _session_cookie(outsider), "csrftoken": CSRF_SECRET}
    foreign = httpx.post(
        url, cookies=outsider_cookies, headers={"X-CSRFToken": CSRF_SECRET}, json=body
    )
    assert foreign.status_code == 403
    assert len(fake_openai.requests("/v1/chat/completions")) == 1


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


# --- invalidation across processes --------------------------------------------------------------


def _calls_until(client_call, status: int) -> bool:
    try:
        client_call()
    except openai.APIStatusError as error:
        return error.status_code == status
    return False


@pytest.mark.skipif(
    not __import__("django.conf").conf.settings.REDIS_URL,
    reason="Needs REDIS_URL: invalidation across processes goes through the shared cache "
    "(embedded mode is one process with an in-process cache).",
)
def test_revoked_key_and_removed_member_stop_working_on_every_process(
    transactional_db, workspace, acme_model_api, member_user, admin_user, openai_clients
):
    from blaxel_console.testing.servers import run_asgi_server
    from workspaces.models import ApiKey, Membership
    from workspaces.principals import Principal
    from workspaces.services import api_key_revoke, membership_remove, personal_api_key_create

    actor = Principal.for_user(admin_user)
    _, revoked_key = personal_api_key_create(user=member_user, name="to revoke")
    _, member_key = personal_api_key_create(user=member_user, name="stays")
    with run_asgi_server() as first, run_asgi_server() as second:
        servers = (first, second)
        calls = {
            (server, key): openai_clients(server, key)[0].models.list
            for server in servers
            for key in (revoked_key, member_key)
        }
        for call in calls.values():  # warm every process's caches
            assert call().data

        api_key_revoke(api_key=ApiKey.objects.get(name="to revoke"), actor=actor)
        for server in servers:
            wait_until(lambda s=server: _calls_until(calls[(s, revoked_key)], 401), timeout=10)
            assert calls[(server, member_key)]().data  # the other key still works

        membership_remove(
            membership=Membership.objects.get(workspace=workspace, user=member_user), actor=actor
        )
        for server in servers:
            wait_until(lambda s=server: _calls_until(calls[(s, member_key)], 403), timeout=10)


# --- shutdown -----------------------------------------------------------------------------------


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="needs Redis: the gateway buffers records for it"
)
def test_a_stopped_gateway_sends_the_usage_records_it_still_held(
    acme_model_api, member_key, openai_clients, settings
):
    settings.USAGE_QUEUE_KEY = f"usage-test-{uuid.uuid4().hex[:8]}"  # this test's queue
    server_env = {
        "USAGE_QUEUE_KEY": settings.USAGE_QUEUE_KEY,
        "GATEWAY_USAGE_FLUSH_SECONDS": "3600",  # the buffer is sent only at shutdown
    }
    try:
        with run_asgi_server(**server_env) as server:
            client, _ = openai_clients(server, member_key)
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
            )
            time.sleep(0.5)
            assert queue.queue_depth() == 0  # still in the gateway's buffer
        # Leaving the block stopped the server (SIGTERM: the ASGI lifespan shutdown).
        (queued,) = redis.sync_client().lrange(queue.queue_key(), 0, -1)
        assert json.loads(queued)["model_api_name"] == "my-gpt"
    finally:
        redis.sync_client().delete(queue.queue_key(), queue.trigger_key())
