"""How `/v0` callers authenticate: API keys in either header, sessions with CSRF."""

import secrets
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from blaxel_console.testing.api import assert_error, key_client
from workspaces.models import ApiKey, Membership, ServiceAccount
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


def _client(**headers) -> APIClient:
    client = APIClient()
    client.credentials(**{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return client


@pytest.fixture
def ada_key(workspace, admin_user, personal_key):
    return personal_key(admin_user)


def test_authorization_bearer(ada_key):
    response = _client(Authorization=f"Bearer {ada_key}", X_Blaxel_Workspace="acme").get(
        "/v0/users"
    )
    assert response.status_code == 200


def test_x_blaxel_authorization_alone(ada_key):
    client = _client(X_Blaxel_Authorization=f"Bearer {ada_key}", X_Blaxel_Workspace="acme")
    assert client.get("/v0/users").status_code == 200


def test_scheme_is_case_insensitive(ada_key):
    client = _client(Authorization=f"bearer {ada_key}", X_Blaxel_Workspace="acme")
    assert client.get("/v0/users").status_code == 200


def test_x_blaxel_authorization_wins_over_authorization(ada_key):
    # Blaxel's own header is the one that counts when a proxy rewrote Authorization.
    good_blaxel = _client(
        Authorization="Bearer bl_wrong", X_Blaxel_Authorization=f"Bearer {ada_key}"
    )
    assert good_blaxel.get("/v0/users?workspace=acme").status_code == 200
    bad_blaxel = _client(
        Authorization=f"Bearer {ada_key}", X_Blaxel_Authorization="Bearer bl_wrong"
    )
    assert_error(bad_blaxel.get("/v0/users?workspace=acme"), 401)


def test_no_credentials_is_401_with_a_challenge(workspace):
    response = _client(X_Blaxel_Workspace="acme").get("/v0/users")
    body = assert_error(response, 401)
    assert body["error"] == "unauthorized"
    assert response["WWW-Authenticate"] == 'Bearer realm="blaxel"'


def test_other_schemes_are_no_credentials(workspace):
    response = _client(Authorization="Basic YWRhOnB3", X_Blaxel_Workspace="acme").get("/v0/users")
    assert_error(response, 401)


def test_unknown_key_is_401_and_not_echoed(workspace):
    response = key_client("bl_this-key-does-not-exist").get("/v0/users")
    body = assert_error(response, 401)
    assert "bl_this-key-does-not-exist" not in response.content.decode()
    assert "Invalid" in body["message"]


def test_revoked_key_is_401(ada_key):
    client = key_client(ada_key)
    assert client.get("/v0/users").status_code == 200
    ApiKey.objects.filter(user__email="ada@example.com").update(revoked_at=timezone.now())
    assert_error(client.get("/v0/users"), 401)


def test_expired_key_is_401(workspace, admin_user, personal_key):
    raw_key = personal_key(admin_user, expires_in="24h")
    row = ApiKey.objects.get(user=admin_user)
    assert row.expires_at > timezone.now() + timedelta(hours=23)
    client = key_client(raw_key)
    assert client.get("/v0/users").status_code == 200
    row.expires_at = timezone.now() - timedelta(seconds=1)
    row.save(update_fields=["expires_at"])
    assert_error(client.get("/v0/users"), 401)


def test_key_of_a_deactivated_user_is_401(ada_key, admin_user):
    admin_user.is_active = False
    admin_user.save()
    assert_error(key_client(ada_key).get("/v0/users"), 401)


def test_last_used_at_is_recorded(ada_key, admin_user):
    row = ApiKey.objects.get(user=admin_user)
    assert row.last_used_at is None
    before = timezone.now()
    key_client(ada_key).get("/v0/users")
    row.refresh_from_db()
    assert row.last_used_at is not None
    assert before <= row.last_used_at <= timezone.now()


def test_service_account_last_used_at_is_recorded(workspace, admin_user, admin_api):
    account = admin_api.post("/v0/service_accounts", {"name": "bot"}, format="json").json()
    created = admin_api.post(
        f"/v0/service_accounts/{account['client_id']}/api_keys", {}, format="json"
    ).json()
    assert created["lastUsedAt"] is None
    key_client(created["apiKey"]).get("/v0/service_accounts")
    listed = admin_api.get(f"/v0/service_accounts/{account['client_id']}/api_keys").json()
    assert listed[0]["lastUsedAt"] is not None
    assert ServiceAccount.objects.get(client_id=account["client_id"]).api_keys.get().last_used_at


def test_personal_key_reaches_every_workspace_of_its_user(ada_key, admin_user, other_workspace):
    Membership.objects.create(workspace=other_workspace, user=admin_user, role=Role.MEMBER)
    assert key_client(ada_key, "acme").get("/v0/users").status_code == 200
    assert key_client(ada_key, "globex").get("/v0/users").status_code == 200
    names = {workspace["name"] for workspace in key_client(ada_key).get("/v0/workspaces").json()}
    assert names == {"acme", "globex"}


def test_personal_key_does_not_reach_a_workspace_of_someone_else(ada_key, other_workspace):
    assert_error(key_client(ada_key, "globex").get("/v0/users"), 403)


def test_membership_removal_takes_effect_for_the_key(member_user, workspace, personal_key):
    client = key_client(personal_key(member_user))
    assert client.get("/v0/users").status_code == 200
    Membership.objects.filter(user=member_user).delete()
    assert_error(client.get("/v0/users"), 403)


# --- sessions (the console's own pages) -------------------------------------------------------


def test_session_reads_work(admin_client):
    response = admin_client.get("/v0/users", HTTP_X_BLAXEL_WORKSPACE="acme")
    assert response.status_code == 200
    assert "ada@example.com" in {user["email"] for user in response.json()}


def test_session_writes_need_the_csrf_token(workspace, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user, backend="django.contrib.auth.backends.ModelBackend")
    refused = client.post(
        "/v0/service_accounts",
        {"name": "bot"},
        content_type="application/json",
        HTTP_X_BLAXEL_WORKSPACE="acme",
    )
    body = assert_error(refused, 403)
    assert "CSRF" in body["message"]
    assert not ServiceAccount.objects.exists()

    # What the console's pages do: the csrftoken cookie echoed in X-CSRFToken.
    token = secrets.token_hex(16)
    client.cookies["csrftoken"] = token
    accepted = client.post(
        "/v0/service_accounts",
        {"name": "bot"},
        content_type="application/json",
        HTTP_X_BLAXEL_WORKSPACE="acme",
        HTTP_X_CSRFTOKEN=token,
    )
    assert accepted.status_code == 200
    assert ServiceAccount.objects.filter(name="bot").exists()


def test_session_of_a_non_member_is_refused(outsider_client, workspace):
    assert_error(outsider_client.get("/v0/users", HTTP_X_BLAXEL_WORKSPACE="acme"), 403)
