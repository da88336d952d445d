"""`/v0/integrations/...` through DRF's test client: shapes, masking, errors, the role
matrix and another workspace's connections (404)."""

import json

import pytest

from integrations.models import IntegrationConnection

pytestmark = pytest.mark.django_db

KEY = "sk-proj-ApiTestSecretValue000000beef"
NEW_KEY = "sk-proj-ApiTestRotatedValue11111cafe"
BASE = "/v0/integrations/connections"


def body(base_url="http://127.0.0.1:9/v1", name="main", key=KEY, **config):
    return {
        "metadata": {"name": name, "displayName": "Main OpenAI"},
        "spec": {
            "integration": "openai",
            "config": {"baseUrl": base_url, **config},
            "secret": {"apiKey": key},
        },
    }


def assert_no_key(response, *keys):
    text = response.content.decode()
    for key in keys or (KEY, NEW_KEY):
        assert key not in text


def assert_error(response, status, *, field=None):
    assert response.status_code == status, response.content
    data = response.json()
    assert data["code"] == status and data["error"] and data["message"]
    assert "detail" not in data
    if field:
        assert field in data["fields"], data
    return data


@pytest.fixture
def connection(make_connection):
    return make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")


@pytest.fixture
def foreign_connection(make_connection, other_workspace, outsider):
    from workspaces.principals import Principal

    return make_connection(
        "globex-key",
        key=KEY,
        base_url="http://127.0.0.1:9/v1",
        workspace=other_workspace,
        actor=Principal.for_user(outsider),
    )


def test_create_answers_the_masked_resource(admin_api, allow_loopback):
    response = admin_api.post(BASE, body(organization="org-9"), format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["metadata"]["name"] == "main"
    assert data["metadata"]["displayName"] == "Main OpenAI"
    assert data["metadata"]["workspace"] == "acme"
    assert data["metadata"]["createdBy"] == "ada@example.com"
    assert data["metadata"]["createdAt"].endswith("Z")
    assert data["spec"] == {
        "integration": "openai",
        "config": {"baseUrl": "http://127.0.0.1:9/v1", "organization": "org-9"},
        "secret": {"apiKey": "sk-…beef"},
    }
    assert data["status"] == "checking"
    assert_no_key(response)
    assert IntegrationConnection.objects.get().secret_values == {"apiKey": KEY}


def test_list_is_a_plain_array_even_with_the_envelope_version(admin_api, connection):
    response = admin_api.get(BASE, HTTP_BLAXEL_VERSION="2026-04-28")
    assert response.status_code == 200
    [item] = response.json()
    assert item["metadata"]["name"] == "main"
    assert item["spec"]["secret"] == {"apiKey": "sk-…beef"}
    assert_no_key(response)


def test_get_one(member_api, connection):
    response = member_api.get(f"{BASE}/main")
    assert response.status_code == 200
    assert response.json()["spec"]["secret"] == {"apiKey": "sk-…beef"}
    assert_no_key(response)


def test_put_with_the_masked_secret_sent_back_keeps_the_key(admin_api, connection):
    current = admin_api.get(f"{BASE}/main").json()
    current["metadata"]["displayName"] = "Renamed"
    current["status"] = "valid"  # read-only fields sent back are ignored
    response = admin_api.put(f"{BASE}/main", current, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["metadata"]["displayName"] == "Renamed"
    stored = IntegrationConnection.objects.get()
    assert stored.secret_values == {"apiKey": KEY}
    assert stored.secret_version == 1


def test_put_with_a_new_key_holds_it_until_it_is_checked(admin_api, connection):
    response = admin_api.put(
        f"{BASE}/main", {"spec": {"secret": {"apiKey": NEW_KEY}}}, format="json"
    )
    assert response.status_code == 200
    # The stored key keeps serving; the new one waits for the provider's answer.
    assert response.json()["spec"]["secret"] == {"apiKey": "sk-…beef"}
    assert response.json()["pendingKey"] == {
        "secret": {"apiKey": "sk-…cafe"},
        "status": "checking",
        "message": "",
    }
    assert_no_key(response)
    stored = IntegrationConnection.objects.get(pk=connection.pk)
    assert stored.secret_values == {"apiKey": KEY}
    assert stored.pending_secret_values == {"apiKey": NEW_KEY}
    assert stored.config == {"baseUrl": "http://127.0.0.1:9/v1"}  # absent config: unchanged


def test_put_cannot_rename_or_change_provider(admin_api, connection):
    response = admin_api.put(f"{BASE}/main", {"metadata": {"name": "other"}}, format="json")
    assert_error(response, 400, field="metadata.name")
    response = admin_api.put(
        f"{BASE}/main", {"spec": {"integration": "openai-compatible"}}, format="json"
    )
    assert_error(response, 400, field="spec.integration")


def test_delete_answers_the_deleted_resource(admin_api, connection):
    response = admin_api.delete(f"{BASE}/main")
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "main"
    assert_no_key(response)
    assert not IntegrationConnection.objects.exists()
    assert_error(admin_api.get(f"{BASE}/main"), 404)


def test_delete_in_use_is_409_naming_the_model_api(admin_api, connection):
    from models_api.models import ModelAPI, ModelAPIConnection

    model_api = ModelAPI.objects.create(
        workspace=connection.workspace, name="chat-bot", runtime_type="openai", runtime_model="x"
    )
    ModelAPIConnection.objects.create(model_api=model_api, connection=connection, position=0)
    data = assert_error(admin_api.delete(f"{BASE}/main"), 409)
    assert "chat-bot" in data["message"]
    assert IntegrationConnection.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"metadata": {}, "spec": {"integration": "openai"}}, "metadata.name"),
        ({"metadata": {"name": "x"}, "spec": {}}, "spec.integration"),
        (body(key=""), "spec.secret.apiKey"),
        (body(base_url="http://169.254.169.254/"), "spec.config.baseUrl"),
        (body(base_url="not a url"), "spec.config.baseUrl"),
        (body(name="Bad Name"), "metadata.name"),
        ({**body(), "spec": {**body()["spec"], "integration": "nope"}}, "spec.integration"),
        ({**body(), "spec": {**body()["spec"], "config": {"region": "x"}}}, "spec.config.region"),
        ({**body(), "spec": {**body()["spec"], "secret": "sk-x"}}, "spec.secret"),
    ],
)
def test_bad_input_is_400_with_fields(admin_api, payload, field):
    response = admin_api.post(BASE, payload, format="json")
    assert_error(response, 400, field=field)
    assert_no_key(response)


def test_malformed_json_is_400(admin_api):
    response = admin_api.generic("POST", BASE, "{not json", content_type="application/json")
    assert_error(response, 400)


def test_duplicate_name_is_409(admin_api, connection):
    response = admin_api.post(BASE, body(), format="json")
    assert_error(response, 409)
    assert_no_key(response)


def test_models_in_openai_list_shape(member_api, make_connection, fake_openai):
    make_connection("live", key=fake_openai.key, base_url=fake_openai.base_url)
    response = member_api.get(f"{BASE}/live/models", {"q": "4o"})
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "list" and data["source"] == "live"
    assert [item["id"] for item in data["data"]] == ["gpt-4o", "gpt-4o-mini"]
    item = data["data"][0]
    assert item["object"] == "model" and item["owned_by"] == "system"
    assert item["pricing"]["input"] == 2.5 and item["pricing"]["kind"] == "list price"
    assert fake_openai.key not in response.content.decode()
    one = member_api.get(f"{BASE}/live/models/gpt-4o-mini")
    assert one.status_code == 200 and one.json()["id"] == "gpt-4o-mini"
    assert_error(member_api.get(f"{BASE}/live/models/claude-3"), 404)
    assert_error(member_api.get(f"{BASE}/live/models", {"limit": "0"}), 400, field="limit")


def test_models_refresh_on_demand(member_api, make_connection, fake_openai):
    make_connection("live", key=fake_openai.key, base_url=fake_openai.base_url)
    member_api.get(f"{BASE}/live/models")
    fake_openai.configure(models=["gpt-5"])
    assert len(member_api.get(f"{BASE}/live/models").json()["data"]) == 12  # cached
    refreshed = member_api.get(f"{BASE}/live/models", {"refresh": "true"}).json()
    assert [item["id"] for item in refreshed["data"]] == ["gpt-5"]


def test_models_fallback_when_unreachable(member_api, make_connection):
    make_connection("down", key=KEY, base_url="http://127.0.0.1:9/v1")
    data = member_api.get(f"{BASE}/down/models", {"q": "gpt-4.1"}).json()
    assert data["source"] == "builtin" and data["error"].startswith("unreachable")
    assert [item["id"] for item in data["data"]] == ["gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"]


def test_provider_description(member_api):
    response = member_api.get("/v0/integrations/openai")
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "openai"
    assert data["additionalInfos"]["keysUrl"] == "https://platform.openai.com/api-keys"
    assert "/v1/chat/completions" in data["endpoints"]
    assert data["endpoints"]["/v1/chat/completions"]["token"]["sent"] == "usage.prompt_tokens"
    assert [field["name"] for field in data["secretFields"]] == ["apiKey"]
    assert data["headers"] == {
        "OpenAI-Organization": "config.organization",
        "OpenAI-Project": "config.project",
    }
    assert member_api.get("/v0/integrations/openai-compatible").json()["name"] == (
        "openai-compatible"
    )
    assert_error(member_api.get("/v0/integrations/anthropic"), 404)


# --- who may do what ---------------------------------------------------------------------

WRITES = [
    ("post", BASE, body(name="another")),
    ("put", f"{BASE}/main", {"metadata": {"displayName": "x"}}),
    ("delete", f"{BASE}/main", None),
]
READS = [
    f"{BASE}",
    f"{BASE}/main",
    f"{BASE}/main/models",
    f"{BASE}/main/models/gpt-4o",
    "/v0/integrations/openai",
]


@pytest.mark.parametrize(("method", "url", "payload"), WRITES)
def test_member_cannot_write(member_api, connection, method, url, payload):
    response = getattr(member_api, method)(url, payload, format="json")
    assert_error(response, 403)
    stored = IntegrationConnection.objects.get()
    assert stored.display_name == "" and stored.secret_values == {"apiKey": KEY}
    assert IntegrationConnection.objects.count() == 1


@pytest.mark.parametrize("url", READS)
def test_member_can_read(member_api, connection, url):
    assert member_api.get(url).status_code == 200


@pytest.mark.parametrize("url", READS)
def test_outsider_cannot_read(outsider_api, connection, url):
    assert_error(outsider_api.get(url), 403)


@pytest.mark.parametrize(("method", "url", "payload"), WRITES)
def test_outsider_cannot_write(outsider_api, connection, method, url, payload):
    assert_error(getattr(outsider_api, method)(url, payload, format="json"), 403)


@pytest.mark.parametrize("url", READS)
def test_no_key_is_401(client, connection, url):
    response = client.get(url, HTTP_X_BLAXEL_WORKSPACE="acme")
    assert_error(response, 401)


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("get", "", None),
        ("put", "", {"metadata": {"displayName": "stolen"}}),
        ("delete", "", None),
        ("get", "/models", None),
        ("get", "/models/gpt-4o", None),
    ],
)
def test_another_workspaces_connection_is_404(
    admin_api, connection, foreign_connection, method, suffix, payload
):
    response = getattr(admin_api, method)(f"{BASE}/globex-key{suffix}", payload, format="json")
    assert_error(response, 404)
    foreign_connection.refresh_from_db()
    assert foreign_connection.display_name == ""
    # ...and it is not in this workspace's list either.
    assert [item["metadata"]["name"] for item in admin_api.get(BASE).json()] == ["main"]


def test_admin_service_account_can_manage(admin_api, workspace, actor, allow_loopback):
    from rest_framework.test import APIClient

    from workspaces.services import service_account_api_key_create, service_account_create

    account = service_account_create(workspace=workspace, name="ci", role="admin", actor=actor)
    _, raw = service_account_api_key_create(service_account=account, name="k", actor=actor)
    client = APIClient()
    client.credentials(HTTP_X_BLAXEL_AUTHORIZATION=f"Bearer {raw}")  # no workspace header
    response = client.post(BASE, body(), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["metadata"]["createdBy"] == "service account ci"


def test_member_service_account_cannot(workspace, actor, allow_loopback):
    from rest_framework.test import APIClient

    from workspaces.services import service_account_api_key_create, service_account_create

    account = service_account_create(workspace=workspace, name="bot", role="member", actor=actor)
    _, raw = service_account_api_key_create(service_account=account, name="k", actor=actor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_error(client.post(BASE, body(), format="json"), 403)
    assert client.get(BASE).status_code == 200


def test_responses_never_carry_the_key_anywhere(admin_api, allow_loopback):
    responses = [admin_api.post(BASE, body(), format="json")]
    responses.append(admin_api.get(BASE))
    responses.append(
        admin_api.put(f"{BASE}/main", {"spec": {"secret": {"apiKey": NEW_KEY}}}, format="json")
    )
    responses.append(admin_api.get(f"{BASE}/main"))
    responses.append(admin_api.delete(f"{BASE}/main"))
    for response in responses:
        assert response.status_code == 200
        assert_no_key(response)
        assert "apiKey" in json.dumps(response.json())  # the masked field is there
