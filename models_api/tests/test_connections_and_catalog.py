"""A model API's connections and model, as people and clients choose them: refused on a
connection whose key was refused, a model not in the catalog refused with a suggestion,
connections changed in order on the edit page and through `/v0` (PUT and PATCH) with the
model-API roles, audit, and another workspace's connections unknown."""

import json

import pytest

from integrations.models import IntegrationConnection
from models_api.models import ModelAPI
from workspaces.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def send(client, method, path, data):
    return getattr(client, method)(path, data=json.dumps(data), content_type="application/json")


def order(model_api) -> list[str]:
    return list(
        model_api.connection_links.order_by("position").values_list("connection__name", flat=True)
    )


def refuse_key(connection, reason="Incorrect API key provided: sk-…zz99."):
    IntegrationConnection.objects.filter(pk=connection.pk).update(
        status="invalid", status_message=reason
    )


def new_model_api(name="typo", model="gpt-4o", connections=("openai-main",)):
    return {
        "metadata": {"name": name},
        "spec": {"integrationConnections": list(connections), "runtime": {"model": model}},
    }


def test_v0_refuses_a_model_not_in_the_catalog_suggesting_the_close_one(
    member_api, openai_connection
):
    response = send(member_api, "post", "/v0/models", new_model_api(model="gpt4o"))
    assert response.status_code == 400, response.content
    message = response.json()["fields"]["spec.runtime.model"]
    assert "not in the OpenAI catalog" in message and "Did you mean gpt-4o?" in message
    assert not ModelAPI.objects.exists()


def test_v0_refuses_a_connection_whose_key_was_refused(member_api, openai_connection):
    refuse_key(openai_connection)
    response = send(member_api, "post", "/v0/models", new_model_api())
    assert response.status_code == 400, response.content
    message = response.json()["fields"]["spec.integrationConnections"]
    assert "“openai-main” is Invalid" in message and "Incorrect API key" in message


def test_the_form_refuses_an_unknown_model_and_an_invalid_connection(
    member_client, openai_connection
):
    form = {"provider": "openai", "connection": "openai-main", "model": "gpt4o", "name": "x"}
    response = member_client.post("/acme/models/new/", form)
    assert response.status_code == 200
    assert "Did you mean gpt-4o?" in " ".join(response.context["form"].errors["model"])
    refuse_key(openai_connection)
    page = member_client.get("/acme/models/new/").content.decode()
    assert "Invalid" in page and "Incorrect API key provided" in page  # the picker says so
    response = member_client.post("/acme/models/new/", {**form, "model": "gpt-4o"})
    assert "is Invalid" in " ".join(response.context["form"].errors["connection"])
    assert not ModelAPI.objects.exists()


def test_the_edit_page_changes_the_connections_in_order(
    member_client, make_model_api, openai_connection, second_connection
):
    model_api = make_model_api(connections=[openai_connection])
    page = member_client.get("/acme/models/my-gpt/edit/").content.decode()
    assert 'name="connection_0"' in page and 'name="connection_1"' in page
    form = {"display_name": "My GPT", "enabled": "on", "model": "gpt-4o-mini"}
    response = member_client.post(
        "/acme/models/my-gpt/edit/",
        {**form, "connection_0": "openai-backup", "connection_1": "openai-main"},
    )
    assert response.status_code == 302
    assert order(model_api) == ["openai-backup", "openai-main"]
    entry = AuditLogEntry.objects.filter(action="model_api.update").latest("id")
    assert entry.changes["connections"] == [["openai-main"], ["openai-backup", "openai-main"]]
    # The same connection twice is a field error.
    response = member_client.post(
        "/acme/models/my-gpt/edit/",
        {**form, "connection_0": "openai-main", "connection_1": "openai-main"},
    )
    assert response.status_code == 200 and response.context["form"].errors["connection_1"]
    assert order(model_api) == ["openai-backup", "openai-main"]


def test_the_edit_page_refuses_switching_to_an_invalid_connection(
    member_client, make_model_api, openai_connection, second_connection
):
    model_api = make_model_api(connections=[openai_connection])
    refuse_key(second_connection)
    response = member_client.post(
        "/acme/models/my-gpt/edit/",
        {"enabled": "on", "model": "gpt-4o-mini", "connection_0": "openai-backup"},
    )
    assert response.status_code == 200
    assert "is Invalid" in " ".join(response.context["form"].errors["connection_0"])
    assert order(model_api) == ["openai-main"]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_v0_changes_the_connections_in_order(
    method, member_api, make_model_api, openai_connection, second_connection
):
    model_api = make_model_api(connections=[openai_connection])
    body = {"spec": {"integrationConnections": ["openai-backup", "openai-main"]}}
    response = send(member_api, method, "/v0/models/my-gpt", body)
    assert response.status_code == 200, response.content
    assert response.json()["spec"]["integrationConnections"] == ["openai-backup", "openai-main"]
    assert order(model_api) == ["openai-backup", "openai-main"]
    assert AuditLogEntry.objects.filter(action="model_api.update").exists()


def test_v0_connections_of_another_workspace_are_unknown(
    member_api, make_model_api, openai_connection, make_connection, other_workspace, outsider
):
    from workspaces.principals import Principal

    make_model_api(connections=[openai_connection])
    make_connection(
        "globex-only", key="sk-x", workspace=other_workspace, actor=Principal.for_user(outsider)
    )
    body = {"spec": {"integrationConnections": ["globex-only"]}}
    response = send(member_api, "patch", "/v0/models/my-gpt", body)
    assert response.status_code == 400
    assert "spec.integrationConnections" in response.json()["fields"]


def test_v0_patch_in_a_workspace_out_of_reach_is_refused(outsider_api, make_model_api):
    make_model_api()
    body = {"spec": {"integrationConnections": ["openai-main"]}}
    response = send(outsider_api, "patch", "/v0/models/my-gpt", body)
    assert response.status_code == 403  # a workspace the caller cannot reach


def test_an_outsider_cannot_open_the_edit_page(outsider_client, make_model_api):
    make_model_api()
    assert outsider_client.get("/acme/models/my-gpt/edit/").status_code == 404
