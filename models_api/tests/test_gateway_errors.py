"""Errors through a live gateway, each in OpenAI's shape and with its usage record: a
disabled model API, an unknown model API or path, a wrong method, the provider's own
errors passed through, the provider unreachable (502) or too slow (504), a body over
the limit (413) or not JSON (400)."""

import httpx
import openai
import pytest

from blaxel_console.testing.usage import wait_for_usage_records

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]


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
