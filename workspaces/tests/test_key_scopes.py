"""Scoped keys on `/v0` and the console: a key restricted, when made, to some model APIs
and/or inference only gets a 403 naming its scope outside it; the scope shows on the
key's row and in `/v0`, and the audit log records it. Admins only make service-account
keys; another workspace's account is a 404."""

import pytest
from rest_framework.test import APIClient

from workspaces import services
from workspaces.models import ApiKey, AuditLogEntry

pytestmark = pytest.mark.django_db


def api_with(raw_key, workspace_name="acme"):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {raw_key}", HTTP_X_BLAXEL_WORKSPACE=workspace_name
    )
    return client


@pytest.fixture
def model_apis(workspace, bare_model_api):
    return bare_model_api(workspace, name="my-gpt"), bare_model_api(workspace, name="other-gpt")


def scoped_personal_key(user, **scope):
    return services.personal_api_key_create(user=user, name="scoped", **scope)[1]


def test_an_inference_only_key_reads_but_never_writes(admin_user, workspace, model_apis):
    api = api_with(scoped_personal_key(admin_user, scope_inference_only=True))
    assert api.get("/v0/models").status_code == 200
    assert api.get("/v0/models/my-gpt").status_code == 200
    for answer in (
        api.put("/v0/models/my-gpt", {"spec": {"enabled": False}}, format="json"),
        api.post("/v0/service_accounts", {"name": "x"}, format="json"),
        api.delete("/v0/models/other-gpt"),
        api.post("/v0/policies", {"metadata": {"name": "p"}}, format="json"),
    ):
        assert answer.status_code == 403
        body = answer.json()
        assert body["code"] == 403 and "scope (inference only)" in body["message"]
    assert {item.name for item in type(model_apis[0]).objects.all()} == {"my-gpt", "other-gpt"}


def test_a_model_api_scoped_key_reaches_only_those_on_v0(admin_user, workspace, model_apis):
    api = api_with(scoped_personal_key(admin_user, scope_model_apis=["my-gpt"]))
    assert api.get("/v0/models/my-gpt").status_code == 200
    assert api.get("/v0/models/my-gpt/logs").status_code == 200
    for path in (
        "/v0/models/other-gpt",
        "/v0/models/other-gpt/logs",
        "/v0/models/other-gpt/metrics",
    ):
        answer = api.get(path)
        assert answer.status_code == 403
        assert "model APIs my-gpt" in answer.json()["message"]
        assert "other-gpt" in answer.json()["message"]


def test_a_scoped_key_gains_nothing_beyond_its_role(member_user, workspace, model_apis):
    api = api_with(scoped_personal_key(member_user, scope_model_apis=["my-gpt"]))
    assert api.post("/v0/service_accounts", {"name": "x"}, format="json").status_code == 403
    assert api_with(scoped_personal_key(member_user), "globex").get("/v0/models").status_code == 403


def test_service_account_keys_are_made_with_a_scope_shown_in_v0_and_audited(
    admin_api, service_account
):
    path = f"/v0/service_accounts/{service_account.client_id}/api_keys"
    body = {"name": "inference", "scope": {"modelApis": ["my-gpt"], "inferenceOnly": True}}
    created = admin_api.post(path, body, format="json")
    assert created.status_code == 200, created.content
    assert created.json()["scope"] == {"modelApis": ["my-gpt"], "inferenceOnly": True}
    (listed,) = admin_api.get(path).json()
    assert listed["scope"] == {"modelApis": ["my-gpt"], "inferenceOnly": True}
    entry = AuditLogEntry.objects.get(action="api_key.create")
    assert entry.changes["scope"] == {"modelApis": ["my-gpt"], "inferenceOnly": True}
    raw_key = created.json()["apiKey"]
    assert raw_key not in str(entry.changes)
    unscoped = admin_api.post(path, {"name": "full"}, format="json").json()
    assert unscoped["scope"] == {"modelApis": [], "inferenceOnly": False}
    key_api = api_with(raw_key)
    assert key_api.get("/v0/service_accounts").status_code == 200
    assert key_api.post("/v0/service_accounts", {"name": "y"}, format="json").status_code == 403


@pytest.mark.parametrize(
    "scope, field",
    [
        ({"modelApis": ["Not-A-Name"]}, "scope.modelApis.0"),
        ({"modelApis": "my-gpt"}, "scope.modelApis"),
        ({"inferenceOnly": "sometimes"}, "scope.inferenceOnly"),
    ],
)
def test_bad_scopes_are_field_errors(admin_api, service_account, scope, field):
    path = f"/v0/service_accounts/{service_account.client_id}/api_keys"
    answer = admin_api.post(path, {"name": "k", "scope": scope}, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert not ApiKey.objects.filter(service_account__isnull=False).exists()


def test_members_cannot_make_keys_and_other_workspaces_accounts_are_404(
    member_api, admin_api, service_account, other_service_account
):
    body = {"name": "k", "scope": {"inferenceOnly": True}}
    own = f"/v0/service_accounts/{service_account.client_id}/api_keys"
    assert member_api.post(own, body, format="json").status_code == 403
    other = f"/v0/service_accounts/{other_service_account.client_id}/api_keys"
    assert admin_api.post(other, body, format="json").status_code == 404
    assert not ApiKey.objects.filter(service_account__isnull=False).exists()


def test_a_service_accounts_token_scope_is_set_and_changed_through_v0(admin_api):
    body = {"name": "bot", "scope": {"modelApis": ["my-gpt"], "inferenceOnly": False}}
    created = admin_api.post("/v0/service_accounts", body, format="json").json()
    assert created["scope"] == {"modelApis": ["my-gpt"], "inferenceOnly": False}
    path = f"/v0/service_accounts/{created['client_id']}"
    changed = admin_api.put(path, {"scope": {"inferenceOnly": True}}, format="json").json()
    assert changed["scope"] == {"modelApis": [], "inferenceOnly": True}
    entry = AuditLogEntry.objects.get(action="service_account.update")
    assert entry.changes["scope_inference_only"] == [False, True]


# --- the console ---------------------------------------------------------------------------


def test_a_personal_key_made_with_a_scope_shows_it_on_its_row(admin_client, admin_user):
    response = admin_client.post(
        "/profile/security/",
        {
            "name": "ci",
            "expires_in": "30d",
            "scope_model_apis": "other-gpt, my-gpt",
            "scope_inference_only": "on",
        },
    )
    assert response.status_code in (200, 302)
    key = ApiKey.objects.get(user=admin_user, name="ci")
    assert key.scope_model_apis == ["my-gpt", "other-gpt"] and key.scope_inference_only
    html = admin_client.get("/profile/security/").content.decode()
    assert "model APIs my-gpt, other-gpt; inference only" in html


def test_a_bad_model_api_name_in_the_scope_is_a_field_error(admin_client, admin_user):
    response = admin_client.post(
        "/profile/security/",
        {"name": "ci", "expires_in": "30d", "scope_model_apis": "ok, Not OK!"},
    )
    assert response.status_code == 200
    assert (
        "“Not OK!” is not a model API name."
        in response.context["form"].errors["scope_model_apis"][0]
    )
    assert not ApiKey.objects.filter(name="ci").exists()


def test_a_service_account_key_made_on_its_page_shows_its_scope(admin_client, service_account):
    path = f"/acme/settings/service-accounts/{service_account.client_id}/"
    admin_client.post(path, {"name": "deploy", "expires_in": "1w", "scope_inference_only": "on"})
    key = ApiKey.objects.get(service_account=service_account)
    assert key.scope_inference_only and key.scope_model_apis == []
    assert "inference only" in admin_client.get(path).content.decode()
    assert AuditLogEntry.objects.get(action="api_key.create").changes["scope"]["inferenceOnly"]
