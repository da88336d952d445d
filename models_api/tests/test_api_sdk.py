"""`/v0/models` driven by Blaxel's official Python SDK (0.4.24): its generated
control-plane client, unchanged, pointed at a live ASGI server of this console. The
deploy check runs against the fake OpenAI server's catalog (eagerly in the embedded
mode, on the real Celery worker when REDIS_URL is set). Then the endpoint in
`metadata.url` is called with the OpenAI SDK and with Blaxel's own headers."""

import json
import os

os.environ.setdefault("DO_NOT_TRACK", "1")  # the SDK must not phone home from tests

import httpx
import openai
import pytest
from blaxel.core.client.api.models import (
    create_model,
    delete_model,
    get_model,
    list_models,
    update_model,
)
from blaxel.core.client.client import Client
from blaxel.core.client.models import (
    Error,
    Metadata,
    MetadataLabels,
    Model,
    ModelList,
    ModelRuntime,
    ModelRuntimeType,
    ModelSpec,
    Status,
)

from blaxel_console.testing.waiting import wait_until

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("settled_background_work"),
]

API_VERSION = "2026-04-28"


def sdk_client(server_url: str, key: str, workspace: str = "acme") -> Client:
    """Headers as the SDK's own API-key auth sends them (`blaxel.core.authentication.
    apikey.ApiKey`), plus the `Blaxel-Version` its autoload sets."""
    return Client(
        base_url=f"{server_url}/v0",
        headers={
            "X-Blaxel-Authorization": f"Bearer {key}",
            "X-Blaxel-Workspace": workspace,
            "Blaxel-Version": API_VERSION,
        },
        raise_on_unexpected_status=True,
    )


def model_body(name: str, model: str = "gpt-4o-mini", connections=("openai-main",)) -> Model:
    return Model(
        metadata=Metadata(
            name=name,
            display_name=name.replace("-", " ").title(),
            labels=MetadataLabels.from_dict({"team": "sdk"}),
        ),
        spec=ModelSpec(
            integration_connections=list(connections),
            runtime=ModelRuntime(type_=ModelRuntimeType.OPENAI, model=model),
        ),
    )


def wait_for_status(client: Client, name: str, status: Status, timeout: float = 30) -> Model:
    def reached():
        model = get_model.sync(name, client=client)
        return model if model.status == status else None

    return wait_until(reached, timeout=timeout)


@pytest.fixture
def member_sdk(asgi_server, member_key):
    return sdk_client(asgi_server, member_key)


def test_model_api_lifecycle_through_the_sdk(member_sdk, openai_connection, fake_openai):
    created = create_model.sync(client=member_sdk, body=model_body("sdk-gpt"))
    assert isinstance(created, Model), created
    assert created.metadata.name == "sdk-gpt"
    assert created.metadata.url.endswith("/run/acme/models/sdk-gpt")
    assert created.spec.runtime.type_ == ModelRuntimeType.OPENAI
    assert created.spec.integration_connections == ["openai-main"]
    assert created.status in (Status.DEPLOYING, Status.DEPLOYED)

    deployed = wait_for_status(member_sdk, "sdk-gpt", Status.DEPLOYED)
    assert deployed.events[-1].status == "DEPLOYED"
    assert "gpt-4o-mini" in deployed.events[-1].message
    # The check asked the fake's catalog with the connection's key.
    assert any(
        request["headers"]["authorization"] == f"Bearer {fake_openai.key}"
        for request in fake_openai.requests("/v1/models")
    )

    # A second one, then the paginated list.
    assert isinstance(create_model.sync(client=member_sdk, body=model_body("sdk-mini")), Model)
    first = list_models.sync(client=member_sdk, limit=1)
    assert isinstance(first, ModelList)
    assert [model.metadata.name for model in first.data] == ["sdk-gpt"]
    assert first.meta.has_more is True and first.meta.total == 2
    second = list_models.sync(client=member_sdk, limit=1, cursor=first.meta.next_cursor)
    assert [model.metadata.name for model in second.data] == ["sdk-mini"]
    assert second.meta.has_more is False
    found = list_models.sync(client=member_sdk, q="sdk-m")
    assert [model.metadata.name for model in found.data] == ["sdk-mini"]

    # Update: get, edit, put back (read-only fields included).
    model = get_model.sync("sdk-gpt", client=member_sdk)
    model.metadata.display_name = "Edited by the SDK"
    model.metadata.labels = MetadataLabels.from_dict({"team": "sdk", "tier": "gold"})
    updated = update_model.sync("sdk-gpt", client=member_sdk, body=model)
    assert isinstance(updated, Model), updated
    assert updated.metadata.display_name == "Edited by the SDK"
    assert updated.metadata.labels.to_dict() == {"team": "sdk", "tier": "gold"}
    assert updated.status == Status.DEPLOYED  # a new display name needs no new check

    # Disable.
    model = get_model.sync("sdk-gpt", client=member_sdk)
    model.spec.enabled = False
    disabled = update_model.sync("sdk-gpt", client=member_sdk, body=model)
    assert disabled.spec.enabled is False and disabled.status == Status.DEACTIVATED
    assert disabled.events[-1].status == "DEACTIVATED"

    # Delete answers the deleted resource; afterwards it is a 404.
    deleted = delete_model.sync("sdk-gpt", client=member_sdk)
    assert isinstance(deleted, Model) and deleted.metadata.name == "sdk-gpt"
    missing = get_model.sync("sdk-gpt", client=member_sdk)
    assert isinstance(missing, Error) and missing.code == 404


def test_the_sdk_sees_errors_in_blaxels_shape(member_sdk, asgi_server, openai_connection):
    assert isinstance(create_model.sync(client=member_sdk, body=model_body("dup")), Model)
    duplicate = create_model.sync(client=member_sdk, body=model_body("dup"))
    assert isinstance(duplicate, Error) and duplicate.code == 409
    unknown = create_model.sync(client=member_sdk, body=model_body("x", connections=["nope"]))
    assert isinstance(unknown, Error) and unknown.code == 400
    assert "nope" in unknown.message
    bad_name = create_model.sync(client=member_sdk, body=model_body("Bad_Name"))
    assert isinstance(bad_name, Error) and bad_name.code == 400
    no_key = sdk_client(asgi_server, "bl_not-a-key")
    denied = list_models.sync(client=no_key)
    assert isinstance(denied, Error) and denied.code == 401


def test_a_model_not_in_the_catalog_is_refused_with_a_suggestion(member_sdk, openai_connection):
    response = create_model.sync_detailed(
        client=member_sdk, body=model_body("typo-gpt", model="gpt-4o-mimi")
    )
    assert response.status_code == 400
    message = json.loads(response.content)["fields"]["spec.runtime.model"]
    assert "gpt-4o-mimi" in message and "Did you mean gpt-4o-mini?" in message
    assert get_model.sync_detailed("typo-gpt", client=member_sdk).status_code == 404


def test_the_endpoint_in_metadata_url_answers_the_openai_sdk(
    member_sdk, member_key, openai_connection, fake_openai
):
    """The console key calls the endpoint; the fake sees the connection's key instead."""
    create_model.sync(client=member_sdk, body=model_body("callable"))
    url = wait_for_status(member_sdk, "callable", Status.DEPLOYED).metadata.url

    client = openai.OpenAI(base_url=f"{url}/v1", api_key=member_key, max_retries=0)
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert answer.choices[0].message.content
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
    assert "".join(piece for piece in pieces if piece)

    # Blaxel's own headers only: no Authorization header at all.
    response = httpx.post(
        f"{url}/v1/chat/completions",
        headers={"X-Blaxel-Authorization": f"Bearer {member_key}", "X-Blaxel-Workspace": "acme"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]

    seen = fake_openai.requests("/v1/chat/completions")
    assert len(seen) == 3
    for request in seen:
        assert request["headers"]["authorization"] == f"Bearer {fake_openai.key}"
        assert member_key not in str(request["headers"])


def test_a_disabled_model_api_refuses_calls(member_sdk, member_key, openai_connection):
    create_model.sync(client=member_sdk, body=model_body("paused"))
    model = wait_for_status(member_sdk, "paused", Status.DEPLOYED)
    model.spec.enabled = False
    update_model.sync("paused", client=member_sdk, body=model)
    client = openai.OpenAI(base_url=f"{model.metadata.url}/v1", api_key=member_key, max_retries=0)

    def refused():
        try:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
            )
        except openai.PermissionDeniedError as error:
            return error
        return None

    # Within the gateway's cache lifetime the change reaches the endpoint.
    error = wait_until(refused, timeout=15)
    assert "disabled" in str(error).lower()
