"""The fake OpenAI server's keys and errors, in OpenAI's exact shapes: a wrong or
missing key (masked in the message), a second and rotated keys, injected 429 and 5xx
errors with their filters and bodies, unknown paths and bodies that are not JSON."""

import httpx
import openai
import pytest

from integrations.fake_openai import mask_key

USER_MESSAGE = [{"role": "user", "content": "Say hello to the tests"}]


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
