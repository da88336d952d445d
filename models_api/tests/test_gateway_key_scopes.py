"""Scoped keys on the live gateway, called with the official OpenAI SDK: a key scoped to
some model APIs calls those only (403 in OpenAI's shape naming the scope otherwise), an
inference-only key calls the gateway, and a scope never opens another workspace."""

import openai
import pytest

from blaxel_console.testing.people import make_service_account
from workspaces import services
from workspaces.principals import Principal

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]


def chat(client):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello to me"}]
    )


def test_scoped_keys_call_only_their_model_apis(
    asgi_server,
    workspace,
    other_workspace,
    admin_user,
    member_user,
    make_gateway_model_api,
    openai_clients,
    fake_openai,
):
    make_gateway_model_api(workspace, name="my-gpt")
    make_gateway_model_api(workspace, name="other-gpt")
    make_gateway_model_api(other_workspace, name="my-gpt")
    _, personal = services.personal_api_key_create(
        user=member_user, name="scoped", scope_model_apis=["my-gpt"]
    )
    account = make_service_account(workspace, name="ci-bot", by_user=admin_user)
    _, inference_only = services.service_account_api_key_create(
        service_account=account,
        name="inference",
        scope_inference_only=True,
        actor=Principal.for_user(admin_user),
    )
    assert chat(openai_clients(asgi_server, personal)[0]).choices
    assert chat(openai_clients(asgi_server, inference_only, model_api="other-gpt")[0]).choices

    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(openai_clients(asgi_server, personal, model_api="other-gpt")[0])
    assert refused.value.body["code"] == "outside_key_scope"
    assert "scope (model APIs my-gpt)" in refused.value.body["message"]
    # The scope names a model API, never another workspace's of the same name.
    with pytest.raises(openai.PermissionDeniedError) as elsewhere:
        chat(openai_clients(asgi_server, personal, workspace="globex")[0])
    assert elsewhere.value.body["code"] == "no_access"
    assert len(fake_openai.requests("/v1/chat/completions")) == 2
