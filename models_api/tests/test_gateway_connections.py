"""Which of a model API's connections a live gateway calls: the next one when the
first answers 5xx or is down, the last error when all fail, and the connection's
OpenAI organization sent along."""

import openai
import pytest

from blaxel_console.testing.usage import wait_for_usage_records

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]


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
