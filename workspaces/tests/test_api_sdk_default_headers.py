"""Every collection of `/v0` read through Blaxel's official client with the headers its
default client sends (`Blaxel-Version`, set by the SDK's autoload): members, service
accounts and their keys, and connections come back as the arrays the SDK parses them
as; model APIs and policies as the envelope it expects, policies of the types it knows
only (a rate limit is listed with `?types=all`)."""

import os

# Before the SDK is imported: it must never report anything to the internet.
os.environ.setdefault("DO_NOT_TRACK", "1")

import pytest
from blaxel.core.client.api.integrations import list_integration_connections
from blaxel.core.client.api.models import list_models
from blaxel.core.client.api.policies import list_policies
from blaxel.core.client.api.service_accounts import (
    get_workspace_service_accounts,
    list_api_keys_for_service_account,
)
from blaxel.core.client.api.workspaces import list_workspace_users
from blaxel.core.client.client import Client
from blaxel.core.client.client import client as default_client
from blaxel.core.common.settings import settings as sdk_settings

from blaxel_console.testing.people import make_service_account, make_service_account_key
from models_api.policies.services import policy_create

pytestmark = pytest.mark.live


def test_every_list_parses_with_the_sdks_default_headers(
    asgi_server, workspace, admin_user, personal_key, bare_model_api, daily_cap, actor
):
    # The default client's own headers (the SDK's autoload put them there).
    # The SDK keeps the default client's headers in this attribute.
    sent_by_default = default_client._headers
    assert sent_by_default["Blaxel-Version"] == sdk_settings.api_version >= "2026-09-22"
    account = make_service_account(workspace, name="ci-bot", by_user=admin_user)
    make_service_account_key(account, by_user=admin_user)
    bare_model_api(workspace, name="my-gpt", connected=True)
    # A type the SDK does not know: listed only when asked for (`?types=all`).
    policy_create(
        workspace=workspace, name="rpm", actor=actor, type="rateLimit", requests_per_minute=60
    )
    headers = {
        **sent_by_default,
        "Authorization": f"Bearer {personal_key(admin_user)}",
        "X-Blaxel-Workspace": "acme",
    }
    with Client(base_url=f"{asgi_server}/v0", headers=headers, timeout=30) as client:
        users = list_workspace_users.sync(client=client)
        accounts = get_workspace_service_accounts.sync(client=client)
        keys = list_api_keys_for_service_account.sync(account.client_id, client=client)
        connections = list_integration_connections.sync(client=client)
        models = list_models.sync(client=client)
        policies = list_policies.sync(client=client)
    assert {user.email for user in users} >= {admin_user.email}
    assert [item.name for item in accounts] == ["ci-bot"]
    assert len(keys) == 1
    assert [item.metadata.name for item in connections] == ["openai-main"]
    assert [item.metadata.name for item in models.data] == ["my-gpt"]
    assert [item.metadata.name for item in policies.data] == ["daily-cap"]
