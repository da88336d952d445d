"""Blaxel's official SDK authenticating with OAuth client credentials
(`BL_CLIENT_CREDENTIALS`, `BL_WORKSPACE`) end to end on a live server: it gets its token
at `/v0/oauth/token`, reads `/v0` with it, and calls the gateway with the headers it
sends (`X-Blaxel-Authorization`, `X-Blaxel-Workspace`). The token dies within seconds
when the secret rotates, the role changes or the account is deleted; a scoped
account's tokens reach only its model APIs."""

import base64
import os

# Before the SDK is imported: it must never report anything to the internet.
os.environ.setdefault("DO_NOT_TRACK", "1")

import httpx
import openai
import pytest
from blaxel.core.authentication import auth as blaxel_auth
from blaxel.core.authentication.clientcredentials import ClientCredentials
from blaxel.core.client.api.models import list_models
from blaxel.core.client.api.service_accounts import get_workspace_service_accounts
from blaxel.core.client.client import Client

from blaxel_console.testing.people import make_service_account
from blaxel_console.testing.waiting import wait_until

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]

PROMPT = "Say hello to me"


def credentials_of(account) -> str:
    return base64.b64encode(f"{account.client_id}:{account.issued_client_secret}".encode()).decode()


@pytest.fixture
def sdk_auth(monkeypatch, asgi_server):
    """`sdk_auth(account)`: the SDK's own auth object, from the environment it reads."""

    def make(account, workspace="acme"):
        monkeypatch.delenv("BL_API_KEY", raising=False)
        monkeypatch.setenv("BL_CLIENT_CREDENTIALS", credentials_of(account))
        monkeypatch.setenv("BL_WORKSPACE", workspace)
        # The SDK's own base URL is Blaxel's; the test points it at the live server.
        chosen = blaxel_auth("prod", f"{asgi_server}/v0")
        assert isinstance(chosen, ClientCredentials)
        return chosen

    return make


def gateway_chat(server, headers, model_api="my-gpt"):
    client = openai.OpenAI(
        base_url=f"{server}/run/acme/models/{model_api}/v1",
        api_key="unused",  # the SDK's X-Blaxel-Authorization header carries the token
        default_headers=headers,
        max_retries=0,
        timeout=30,
    )
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )


def status_of(call) -> int:
    try:
        call()
    except openai.APIStatusError as error:
        return error.status_code
    return 200


def test_the_sdk_with_client_credentials_reads_v0_and_calls_the_gateway(
    asgi_server, workspace, admin_user, acme_model_api, sdk_auth, fake_openai
):
    account = make_service_account(workspace, name="ci-bot", by_user=admin_user)
    credentials = sdk_auth(account)
    with Client(
        base_url=f"{asgi_server}/v0", auth=credentials, raise_on_unexpected_status=True, timeout=30
    ) as client:
        accounts = get_workspace_service_accounts.sync(client=client)
        models = list_models.sync(client=client)
    assert [item.name for item in accounts] == ["ci-bot"]
    assert [item.metadata.name for item in models.data] == ["my-gpt"]
    assert credentials.credentials.refresh_token  # the SDK read the whole token answer

    headers = credentials.get_headers()
    assert headers["X-Blaxel-Workspace"] == "acme"
    completion = gateway_chat(asgi_server, headers)
    assert completion.choices[0].message.content.startswith("Hello from the fake")
    (seen,) = fake_openai.requests("/v1/chat/completions")
    assert credentials.credentials.access_token not in str(seen["headers"])


@pytest.mark.parametrize("change", ["rotate", "role", "delete"])
def test_the_token_dies_within_seconds_on_the_gateway_and_v0(
    asgi_server, workspace, admin_user, acme_model_api, sdk_auth, personal_key, change
):
    account = make_service_account(workspace, name="ci-bot", by_user=admin_user)
    headers = sdk_auth(account).get_headers()
    assert gateway_chat(asgi_server, headers).choices  # the gateway has cached the token
    admin = {"Authorization": f"Bearer {personal_key(admin_user)}", "X-Blaxel-Workspace": "acme"}
    path = f"{asgi_server}/v0/service_accounts/{account.client_id}"
    if change == "rotate":
        answer = httpx.post(f"{path}/client_secret", headers=admin)
    elif change == "role":
        answer = httpx.put(path, json={"role": "admin"}, headers=admin)
    else:
        answer = httpx.delete(path, headers=admin)
    assert answer.status_code == 200
    wait_until(lambda: status_of(lambda: gateway_chat(asgi_server, headers)) == 401, timeout=10)
    listed = httpx.get(f"{asgi_server}/v0/service_accounts", headers=headers)
    assert listed.status_code == 401


def test_a_scoped_accounts_tokens_reach_only_its_model_apis(
    asgi_server, workspace, admin_user, make_gateway_model_api, sdk_auth, fake_openai
):
    from workspaces import services
    from workspaces.principals import Principal

    make_gateway_model_api(workspace, name="my-gpt")
    make_gateway_model_api(workspace, name="other-gpt")
    account = services.service_account_create(
        workspace=workspace,
        name="scoped-bot",
        role="admin",
        scope_model_apis=["my-gpt"],
        scope_inference_only=True,
        actor=Principal.for_user(admin_user),
    )
    headers = sdk_auth(account).get_headers()
    assert gateway_chat(asgi_server, headers, "my-gpt").choices
    try:
        gateway_chat(asgi_server, headers, "other-gpt")
    except openai.PermissionDeniedError as error:
        message = error.body["message"]
        assert error.body["code"] == "outside_key_scope"
    else:
        pytest.fail("a call outside the scope passed")
    assert "model APIs my-gpt" in message and "other-gpt" in message
    # Inference only: an admin-role token still cannot change anything through /v0.
    write = httpx.post(f"{asgi_server}/v0/service_accounts", json={"name": "x"}, headers=headers)
    assert write.status_code == 403
    assert "inference only" in write.json()["message"]
    assert len(fake_openai.requests("/v1/chat/completions")) == 1
