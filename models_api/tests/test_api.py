"""`/v0/models` (DESIGN.md §8): shape, roles, tenancy, validation, lists, writes."""

import json

import pytest
from django.conf import settings

from models_api.models import ModelAPI
from models_api.services import model_api_create
from workspaces.principals import Principal

pytestmark = pytest.mark.django_db

ENVELOPE = {"HTTP_BLAXEL_VERSION": "2026-04-28"}


def body(name="my-gpt", connections=("openai-main",), model="gpt-4o-mini", **spec):
    return {
        "metadata": {"name": name, "displayName": "My GPT", "labels": {"team": "search"}},
        "spec": {
            "integrationConnections": list(connections),
            "runtime": {"type": "openai", "model": model},
            **spec,
        },
    }


def post(client, data):
    return client.post("/v0/models", data=json.dumps(data), content_type="application/json")


def put(client, name, data):
    return client.put(f"/v0/models/{name}", data=json.dumps(data), content_type="application/json")


@pytest.fixture
def anonymous_api(workspace):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_BLAXEL_WORKSPACE="acme")
    return client


@pytest.fixture
def globex_model_api(other_workspace, other_connection, outsider):
    return model_api_create(
        workspace=other_workspace,
        name="globex-gpt",
        connections=[other_connection],
        model="gpt-4o",
        actor=Principal.for_user(outsider),
    )


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["code"] == status and data["error"] and data["message"]
    if field:
        assert field in data["fields"], data
    return data


# --- shape -----------------------------------------------------------------------------------


def test_create_answers_the_model_in_blaxels_shape(admin_api, openai_connection, admin_user):
    response = post(admin_api, body())
    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == {"metadata", "spec", "status", "events"}
    metadata = data["metadata"]
    assert metadata["name"] == "my-gpt"
    assert metadata["displayName"] == "My GPT"
    assert metadata["labels"] == {"team": "search"}
    assert metadata["workspace"] == "acme"
    assert metadata["url"] == f"{settings.RUN_URL}/acme/models/my-gpt"
    assert metadata["createdBy"] == metadata["updatedBy"] == admin_user.email
    assert metadata["createdAt"].endswith("Z") and "T" in metadata["createdAt"]
    assert data["spec"] == {
        "enabled": True,
        "integrationConnections": ["openai-main"],
        "runtime": {"type": "openai", "model": "gpt-4o-mini"},
        "policies": [],
    }
    assert data["status"] == "DEPLOYING"
    assert [set(event) for event in data["events"]] == [{"type", "status", "message", "time"}]
    assert data["events"][0]["status"] == "DEPLOYING"


def test_get_answers_the_same_shape_and_the_status_is_never_null(member_api, make_model_api):
    make_model_api(name="my-gpt", enabled=False)
    data = member_api.get("/v0/models/my-gpt").json()
    assert data["status"] == "DEACTIVATED"
    assert data["spec"]["enabled"] is False
    assert data["metadata"]["url"].endswith("/acme/models/my-gpt")


def test_a_service_accounts_key_may_create_in_its_workspace(workspace, openai_connection, actor):
    from rest_framework.test import APIClient

    from workspaces.services import service_account_api_key_create, service_account_create

    account = service_account_create(workspace=workspace, name="ci", actor=actor)
    _, key = service_account_api_key_create(service_account=account, name="k", actor=actor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")  # no workspace header needed
    response = post(client, body())
    assert response.status_code == 200, response.content
    assert response.json()["metadata"]["createdBy"] == "service account ci"


# --- roles and tenancy -------------------------------------------------------------------------


@pytest.mark.parametrize("client_name", ["admin_api", "member_api"])
def test_admins_and_members_may_do_everything(request, client_name, openai_connection):
    client = request.getfixturevalue(client_name)
    assert post(client, body()).status_code == 200
    assert client.get("/v0/models").status_code == 200
    assert client.get("/v0/models/my-gpt").status_code == 200
    assert put(client, "my-gpt", {"spec": {"enabled": False}}).status_code == 200
    assert client.delete("/v0/models/my-gpt").status_code == 200
    assert not ModelAPI.objects.exists()


def test_an_outsider_gets_403_for_every_method(outsider_api, make_model_api):
    make_model_api()
    assert_error(outsider_api.get("/v0/models"), 403)
    assert_error(post(outsider_api, body(name="x")), 403)
    assert_error(outsider_api.get("/v0/models/my-gpt"), 403)
    assert_error(put(outsider_api, "my-gpt", {"spec": {"enabled": False}}), 403)
    assert_error(outsider_api.delete("/v0/models/my-gpt"), 403)
    assert ModelAPI.objects.get().enabled


def test_anonymous_gets_401_for_every_method(anonymous_api, make_model_api):
    make_model_api()
    assert_error(anonymous_api.get("/v0/models"), 401)
    assert_error(post(anonymous_api, body(name="x")), 401)
    assert_error(anonymous_api.get("/v0/models/my-gpt"), 401)
    assert_error(put(anonymous_api, "my-gpt", {"spec": {"enabled": False}}), 401)
    assert_error(anonymous_api.delete("/v0/models/my-gpt"), 401)


def test_a_revoked_key_gets_401(workspace, member_user, openai_connection):
    from rest_framework.test import APIClient

    from workspaces.services import api_key_revoke, personal_api_key_create

    api_key, raw = personal_api_key_create(user=member_user, name="old")
    api_key_revoke(api_key=api_key, actor=Principal.for_user(member_user))
    client = APIClient()
    client.credentials(HTTP_X_BLAXEL_AUTHORIZATION=f"Bearer {raw}", HTTP_X_BLAXEL_WORKSPACE="acme")
    assert_error(client.get("/v0/models"), 401)


def test_another_workspaces_model_api_is_a_404_for_every_method(admin_api, globex_model_api):
    for response in (
        admin_api.get("/v0/models/globex-gpt"),
        put(admin_api, "globex-gpt", {"spec": {"enabled": False}}),
        admin_api.delete("/v0/models/globex-gpt"),
    ):
        assert_error(response, 404)
    globex_model_api.refresh_from_db()
    assert globex_model_api.enabled
    assert admin_api.get("/v0/models").json() == []


def test_the_same_name_in_two_workspaces_stays_apart(
    admin_api, make_model_api, globex_model_api, other_workspace, other_connection, outsider
):
    make_model_api(name="shared", model="gpt-4o-mini")
    model_api_create(
        workspace=other_workspace,
        name="shared",
        connections=[other_connection],
        model="gpt-4.1",
        actor=Principal.for_user(outsider),
    )
    assert admin_api.get("/v0/models/shared").json()["spec"]["runtime"]["model"] == "gpt-4o-mini"
    assert admin_api.delete("/v0/models/shared").status_code == 200
    assert ModelAPI.objects.filter(workspace=other_workspace, name="shared").exists()


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["My-GPT", "my_gpt", "-gpt", "gpt-", "a" * 50, "new", "with space"]
)
def test_bad_names_are_400_on_metadata_name(admin_api, openai_connection, name):
    assert_error(post(admin_api, body(name=name)), 400, "metadata.name")
    assert not ModelAPI.objects.exists()


def test_a_duplicate_name_is_409(admin_api, openai_connection):
    assert post(admin_api, body()).status_code == 200
    assert_error(post(admin_api, body(model="gpt-4o")), 409)
    assert ModelAPI.objects.get().runtime_model == "gpt-4o-mini"


def test_an_unknown_connection_is_400_not_404(admin_api, openai_connection):
    data = assert_error(
        post(admin_api, body(connections=["openai-main", "nope"])),
        400,
        "spec.integrationConnections",
    )
    assert "nope" in data["fields"]["spec.integrationConnections"]
    assert not ModelAPI.objects.exists()


def test_another_workspaces_connection_is_400(
    admin_api, other_workspace, fake_openai, outsider, allow_loopback
):
    from integrations.services import integration_connection_create

    integration_connection_create(
        workspace=other_workspace,
        name="globex-key",
        integration="openai",
        config={"baseUrl": fake_openai.base_url},
        secret={"apiKey": fake_openai.key},
        actor=Principal.for_user(outsider),
    )
    assert_error(
        post(admin_api, body(connections=["globex-key"])), 400, "spec.integrationConnections"
    )


def test_malformed_json_is_400(admin_api, openai_connection):
    response = admin_api.post("/v0/models", data="{not json", content_type="application/json")
    assert_error(response, 400)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"spec": {}}, "metadata"),
        ({"metadata": {"name": "x"}}, "spec"),
        (
            {"metadata": {"name": "x"}, "spec": {"runtime": {"model": "gpt-4o"}}},
            "spec.integrationConnections",
        ),
        (
            {"metadata": {"name": "x"}, "spec": {"integrationConnections": ["openai-main"]}},
            "spec.runtime.model",
        ),
        ({"metadata": {"name": "x", "labels": ["k"]}, "spec": {}}, "metadata.labels"),
        ({"metadata": {"name": "x", "labels": {"k": {"v": 1}}}, "spec": {}}, "metadata.labels.k"),
        (
            {"metadata": {"name": "x"}, "spec": {"integrationConnections": "openai-main"}},
            "spec.integrationConnections",
        ),
        ({"metadata": {"name": "x"}, "spec": {"enabled": "perhaps"}}, "spec.enabled"),
    ],
)
def test_missing_or_mistyped_fields_are_400_with_the_field(
    admin_api, openai_connection, data, field
):
    data = assert_error(post(admin_api, data), 400)
    assert any(key.startswith(field) for key in data["fields"]), data["fields"]


def test_a_runtime_type_other_than_the_connections_provider_is_400(admin_api, openai_connection):
    data = body()
    data["spec"]["runtime"]["type"] = "openai-compatible"
    assert_error(post(admin_api, data), 400, "spec.runtime.type")
    data["spec"]["runtime"]["type"] = "anthropic"
    assert_error(post(admin_api, data), 400, "spec.runtime.type")


def test_unknown_policies_in_spec_are_400_and_nothing_is_created(admin_api, openai_connection):
    assert_error(post(admin_api, body(policies=["no-such-policy"])), 400, "spec.policies")
    assert not ModelAPI.objects.exists()
    assert post(admin_api, body(policies=[])).status_code == 200


def test_an_unknown_model_api_is_a_json_404(admin_api):
    assert_error(admin_api.get("/v0/models/nope"), 404)


# --- lists -------------------------------------------------------------------------------------


def test_the_list_is_a_plain_array_without_the_version_header(member_api, make_model_api):
    make_model_api(name="b-gpt")
    make_model_api(name="a-gpt")
    data = member_api.get("/v0/models").json()
    assert [item["metadata"]["name"] for item in data] == ["a-gpt", "b-gpt"]


def test_the_list_is_paginated_with_the_version_header(member_api, make_model_api):
    for name in ("a-gpt", "b-gpt", "c-mini"):
        make_model_api(name=name)
    first = member_api.get("/v0/models?limit=2", **ENVELOPE).json()
    assert [item["metadata"]["name"] for item in first["data"]] == ["a-gpt", "b-gpt"]
    assert first["meta"]["hasMore"] is True and first["meta"]["total"] == 3
    second = member_api.get(f"/v0/models?limit=2&cursor={first['meta']['nextCursor']}", **ENVELOPE)
    assert [item["metadata"]["name"] for item in second.json()["data"]] == ["c-mini"]
    assert second.json()["meta"]["hasMore"] is False
    found = member_api.get("/v0/models?q=C-MI", **ENVELOPE).json()
    assert [item["metadata"]["name"] for item in found["data"]] == ["c-mini"]
    assert_error(member_api.get("/v0/models?limit=201", **ENVELOPE), 400)


def test_the_list_filters_by_status(member_api, make_model_api):
    make_model_api(name="on")
    make_model_api(name="off", enabled=False)
    data = member_api.get("/v0/models?status=DEACTIVATED").json()
    assert [item["metadata"]["name"] for item in data] == ["off"]


def test_the_list_makes_a_bounded_number_of_queries(
    member_api, make_model_api, django_assert_max_num_queries
):
    for index in range(8):
        make_model_api(name=f"gpt-{index}")
    with django_assert_max_num_queries(12):
        assert len(member_api.get("/v0/models").json()) == 8


# --- update, delete ----------------------------------------------------------------------------


def test_get_edit_put_round_trip_ignores_read_only_fields(admin_api, make_model_api, member_user):
    make_model_api()
    data = admin_api.get("/v0/models/my-gpt").json()
    data["metadata"]["displayName"] = "Renamed"
    data["metadata"]["url"] = "http://evil.example/other"
    data["metadata"]["createdAt"] = "2000-01-01T00:00:00Z"
    data["metadata"]["workspace"] = "globex"
    data["status"] = "DEPLOYED"
    data["events"] = []
    data["spec"]["runtime"]["model"] = "gpt-4o"
    response = put(admin_api, "my-gpt", data)
    assert response.status_code == 200, response.content
    updated = response.json()
    assert updated["metadata"]["displayName"] == "Renamed"
    assert updated["metadata"]["url"].endswith("/acme/models/my-gpt")
    assert updated["metadata"]["workspace"] == "acme"
    assert updated["metadata"]["createdAt"] != "2000-01-01T00:00:00Z"
    assert updated["spec"]["runtime"]["model"] == "gpt-4o"
    assert updated["status"] == "DEPLOYING"  # a new model is checked again
    assert len(updated["events"]) == 2


def test_put_may_disable_and_re_enable(member_api, make_model_api):
    make_model_api()
    data = put(member_api, "my-gpt", {"spec": {"enabled": False}}).json()
    assert (data["spec"]["enabled"], data["status"]) == (False, "DEACTIVATED")
    data = put(member_api, "my-gpt", {"spec": {"enabled": True}}).json()
    assert (data["spec"]["enabled"], data["status"]) == (True, "DEPLOYING")


def test_put_may_change_the_connections(admin_api, make_model_api, second_connection):
    make_model_api()
    data = put(
        admin_api,
        "my-gpt",
        {
            "metadata": {"name": "my-gpt"},
            "spec": {"integrationConnections": ["openai-backup", "openai-main"]},
        },
    ).json()
    assert data["spec"]["integrationConnections"] == ["openai-backup", "openai-main"]


def test_put_refuses_a_rename_and_unknown_connections(admin_api, make_model_api):
    make_model_api()
    assert_error(put(admin_api, "my-gpt", {"metadata": {"name": "other"}}), 400, "metadata.name")
    assert_error(
        put(admin_api, "my-gpt", {"spec": {"integrationConnections": ["nope"]}}),
        400,
        "spec.integrationConnections",
    )
    assert_error(put(admin_api, "my-gpt", {"spec": {"runtime": {"model": ""}}}), 400)
    assert ModelAPI.objects.get().name == "my-gpt"


def test_put_with_null_labels_clears_them_and_without_labels_keeps_them(admin_api, make_model_api):
    make_model_api(labels={"a": "b"})
    assert put(admin_api, "my-gpt", {"metadata": {"displayName": "x"}}).json()["metadata"][
        "labels"
    ] == {"a": "b"}
    assert (
        put(admin_api, "my-gpt", {"metadata": {"labels": None}}).json()["metadata"]["labels"] == {}
    )


def test_delete_answers_the_deleted_resource(member_api, make_model_api):
    make_model_api()
    response = member_api.delete("/v0/models/my-gpt")
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "my-gpt"
    assert_error(member_api.get("/v0/models/my-gpt"), 404)
