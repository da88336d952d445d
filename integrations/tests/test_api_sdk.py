"""`/v0/integrations/...` driven by Blaxel's official Python SDK (0.4.24): its generated
control-plane client pointed at a live ASGI server of this console, for every
connection call and its error statuses. The key must never come back, nor reach the
server's log."""

import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from blaxel.core.client.api.integrations import (
    create_integration_connection,
    delete_integration_connection,
    get_integration,
    get_integration_connection,
    get_integration_connection_model,
    list_integration_connection_models,
    list_integration_connections,
    update_integration_connection,
)
from blaxel.core.client.client import Client
from blaxel.core.client.models import (
    Error,
    IntegrationConnection,
    IntegrationConnectionSpec,
    IntegrationConnectionSpecConfig,
    IntegrationConnectionSpecSecret,
    Metadata,
)

from blaxel_console.testing.run import ROOT
from blaxel_console.testing.waiting import wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

WRONG_KEY = "sk-proj-SdkWrongKey0000000000000dd77"


def sdk_client(server_url: str, key: str | None, workspace: str = "acme") -> Client:
    headers = {"X-Blaxel-Workspace": workspace}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return Client(base_url=f"{server_url}/v0", headers=headers, raise_on_unexpected_status=True)


def connection_body(name: str, base_url: str, key: str) -> IntegrationConnection:
    return IntegrationConnection(
        metadata=Metadata(name=name, display_name="Team OpenAI"),
        spec=IntegrationConnectionSpec(
            integration="openai",
            config=IntegrationConnectionSpecConfig.from_dict({"baseUrl": base_url}),
            secret=IntegrationConnectionSpecSecret.from_dict({"apiKey": key}),
        ),
    )


def server_log(server_url: str) -> str:
    return Path(ROOT / "var" / f"asgi-{urlsplit(server_url).port}.log").read_text()


@pytest.fixture
def admin_sdk(asgi_server, workspace, admin_user, personal_key):
    return sdk_client(asgi_server, personal_key(admin_user))


@pytest.fixture
def member_sdk(asgi_server, workspace, member_user, personal_key):
    return sdk_client(asgi_server, personal_key(member_user))


def status_of(client: Client, name: str) -> str:
    return get_integration_connection.sync(name, client=client)["status"]


def test_connection_lifecycle_through_the_sdk(admin_sdk, asgi_server, fake_openai, caplog):
    caplog.set_level(logging.DEBUG)
    key = fake_openai.key

    created = create_integration_connection.sync(
        client=admin_sdk, body=connection_body("team-openai", fake_openai.base_url, key)
    )
    assert isinstance(created, IntegrationConnection)
    assert created.metadata.name == "team-openai"
    assert created.metadata.workspace == "acme"
    assert created.spec.integration == "openai"
    assert created.spec.secret["apiKey"] == "sk-…-key"
    assert created.spec.config["baseUrl"] == fake_openai.base_url

    # The key is checked in the background; the connection turns valid.
    wait_until(lambda: status_of(admin_sdk, "team-openai") == "valid", timeout=30)

    listed = list_integration_connections.sync(client=admin_sdk)
    assert [item.metadata.name for item in listed] == ["team-openai"]
    assert listed[0].spec.secret["apiKey"] == "sk-…-key"

    fetched = get_integration_connection.sync("team-openai", client=admin_sdk)
    assert fetched.metadata.display_name == "Team OpenAI"

    # Update with the object as read: the masked secret goes back and changes nothing.
    fetched.metadata.display_name = "Renamed"
    updated = update_integration_connection.sync("team-openai", client=admin_sdk, body=fetched)
    assert updated.metadata.display_name == "Renamed"
    assert updated.spec.secret["apiKey"] == "sk-…-key"
    assert updated["status"] == "valid"  # same key: no new check
    assert len(fake_openai.requests("/v1/models")) == 1

    # The catalog, in OpenAI's list shape (the SDK returns the raw response here).
    response = list_integration_connection_models.sync_detailed("team-openai", client=admin_sdk)
    assert response.status_code == 200
    catalog = json.loads(response.content)
    assert catalog["object"] == "list"
    assert {"gpt-4o", "gpt-4o-mini"} <= {item["id"] for item in catalog["data"]}
    one = get_integration_connection_model.sync_detailed(
        "team-openai", "gpt-4o-mini", client=admin_sdk
    )
    assert json.loads(one.content)["context_window"] == 128_000

    # Replace the key with a wrong one through the SDK: it is checked first and refused
    # with the reason, and the working key keeps serving meanwhile and after.
    fetched.spec.secret = IntegrationConnectionSpecSecret.from_dict({"apiKey": WRONG_KEY})
    rotated = update_integration_connection.sync("team-openai", client=admin_sdk, body=fetched)
    assert rotated.spec.secret["apiKey"] == "sk-…-key"
    assert rotated["pendingKey"]["secret"]["apiKey"] == "sk-…dd77"

    def refused():
        connection = get_integration_connection.sync("team-openai", client=admin_sdk)
        pending = connection["pendingKey"]
        return connection if pending and pending["status"] == "rejected" else None

    checked = wait_until(refused, timeout=30)
    assert checked["pendingKey"]["message"].startswith("Incorrect API key provided")
    assert checked["status"] == "valid" and checked.spec.secret["apiKey"] == "sk-…-key"

    deleted = delete_integration_connection.sync("team-openai", client=admin_sdk)
    assert deleted.metadata.name == "team-openai"
    assert list_integration_connections.sync(client=admin_sdk) == []

    log = server_log(asgi_server)
    for secret in (key, WRONG_KEY, WRONG_KEY[:8]):
        assert secret not in log
        assert secret not in caplog.text


def test_provider_description_through_the_sdk(member_sdk):
    integration = get_integration.sync("openai", client=member_sdk)
    assert integration.name == "openai"
    assert integration.additional_infos["keysUrl"] == "https://platform.openai.com/api-keys"
    endpoint = integration.endpoints["/v1/chat/completions"]
    assert endpoint.method == "POST"
    assert endpoint.token.sent == "usage.prompt_tokens"
    assert integration.headers["OpenAI-Organization"] == "config.organization"


def test_error_statuses_through_the_sdk(
    admin_sdk, member_sdk, asgi_server, fake_openai, other_workspace, outsider, personal_key
):
    body = connection_body("team-openai", fake_openai.base_url, fake_openai.key)
    assert isinstance(
        create_integration_connection.sync(client=admin_sdk, body=body), IntegrationConnection
    )

    duplicate = create_integration_connection.sync(client=admin_sdk, body=body)
    assert isinstance(duplicate, Error) and duplicate.code == 409

    refused = create_integration_connection.sync(
        client=member_sdk, body=connection_body("mine", fake_openai.base_url, fake_openai.key)
    )
    assert isinstance(refused, Error) and refused.code == 403
    for call in (
        lambda: update_integration_connection.sync("team-openai", client=member_sdk, body=body),
        lambda: delete_integration_connection.sync("team-openai", client=member_sdk),
    ):
        error = call()
        assert isinstance(error, Error) and error.code == 403

    unsafe = create_integration_connection.sync(
        client=admin_sdk, body=connection_body("meta", "http://169.254.169.254/", "sk-proj-x" * 3)
    )
    assert isinstance(unsafe, Error) and unsafe.code == 400
    assert "link-local" in unsafe.message
    assert unsafe["fields"]["spec.config.baseUrl"]

    missing = get_integration_connection.sync("nope", client=admin_sdk)
    assert isinstance(missing, Error) and missing.code == 404

    anonymous = list_integration_connections.sync(client=sdk_client(asgi_server, None))
    assert isinstance(anonymous, Error) and anonymous.code == 401

    # Another workspace's admin: no access to acme (403); acme's connection does not
    # exist from globex (404).
    outsider_key = personal_key(outsider)
    foreign = list_integration_connections.sync(client=sdk_client(asgi_server, outsider_key))
    assert isinstance(foreign, Error) and foreign.code == 403
    globex = sdk_client(asgi_server, outsider_key, workspace="globex")
    assert list_integration_connections.sync(client=globex) == []
    hidden = get_integration_connection.sync("team-openai", client=globex)
    assert isinstance(hidden, Error) and hidden.code == 404
    hidden_delete = delete_integration_connection.sync("team-openai", client=globex)
    assert isinstance(hidden_delete, Error) and hidden_delete.code == 404
    assert [c.metadata.name for c in list_integration_connections.sync(client=admin_sdk)] == [
        "team-openai"
    ]
    log = server_log(asgi_server)
    assert "Conflict: /v0/integrations/connections" in log or "/v0/integrations" in log
    assert fake_openai.key not in log
