"""`/v0/service_accounts` and their API keys: shapes, writes, keys shown once, bad input."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from blaxel_console.testing.api import assert_error, key_client
from blaxel_console.testing.people import make_service_account, make_service_account_key
from workspaces.keys import hash_key
from workspaces.models import ApiKey, AuditLogEntry, ServiceAccount
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(workspace, admin_user):
    return make_service_account(workspace, name="bot", by_user=admin_user)


def _create(api, **body):
    return api.post("/v0/service_accounts", body, format="json")


def test_create_answers_blaxels_shape(admin_api, workspace):
    response = _create(admin_api, name="deployer", description="CI deploys")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "client_id",
        "client_secret",  # shown this once, for OAuth client credentials
        "name",
        "description",
        "role",
        "scope",
        "created_at",
        "updated_at",
    }
    assert body["scope"] == {"modelApis": [], "inferenceOnly": False}
    account = ServiceAccount.objects.get(workspace=workspace, name="deployer")
    assert body["client_id"] == account.client_id
    assert body["description"] == "CI deploys"
    assert body["role"] == "member"  # least privilege unless asked
    datetime.fromisoformat(body["created_at"])
    entry = AuditLogEntry.objects.get(action="service_account.create")
    assert entry.target_label == "deployer"


def test_create_with_admin_role(admin_api):
    assert _create(admin_api, name="ops", role="admin").json()["role"] == "admin"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "role": "viewer"}, "role"),
        ({"name": "ok", "scopes": ["all"]}, "scopes"),
    ],
)
def test_create_refuses_bad_input(admin_api, body, field):
    assert_error(admin_api.post("/v0/service_accounts", body, format="json"), 400, field)
    assert not ServiceAccount.objects.exists()
    assert not AuditLogEntry.objects.filter(action="service_account.create").exists()


def test_create_duplicate_name_is_a_conflict(admin_api, bot):
    body = assert_error(_create(admin_api, name="bot"), 409)
    assert "already exists" in body["message"]
    assert ServiceAccount.objects.filter(name="bot").count() == 1


def test_same_name_in_another_workspace_is_fine(admin_api, other_workspace, outsider):
    make_service_account(other_workspace, name="bot", by_user=outsider)
    assert _create(admin_api, name="bot").status_code == 200


def test_list_and_get(member_api, bot, other_workspace, outsider):
    make_service_account(other_workspace, name="globex-bot", by_user=outsider)
    listed = member_api.get("/v0/service_accounts").json()
    assert [account["name"] for account in listed] == ["bot"]
    one = member_api.get(f"/v0/service_accounts/{bot.client_id}").json()
    assert one == listed[0]


def test_update(admin_api, bot):
    response = admin_api.put(
        f"/v0/service_accounts/{bot.client_id}",
        {"name": "robot", "description": "renamed", "role": "admin"},
        format="json",
    )
    assert response.status_code == 200
    bot.refresh_from_db()
    assert (bot.name, bot.description, bot.role) == ("robot", "renamed", Role.ADMIN)
    assert response.json()["name"] == "robot"
    entry = AuditLogEntry.objects.get(action="service_account.update")
    assert entry.changes["name"] == ["bot", "robot"]


def test_update_tolerates_a_body_copied_from_get(admin_api, bot):
    body = admin_api.get(f"/v0/service_accounts/{bot.client_id}").json()
    body["description"] = "from a GET"
    body["client_id"] = "ignored"
    response = admin_api.put(f"/v0/service_accounts/{bot.client_id}", body, format="json")
    assert response.status_code == 200
    assert response.json()["client_id"] == bot.client_id
    bot.refresh_from_db()
    assert bot.description == "from a GET"


def test_update_to_an_existing_name_is_a_conflict(admin_api, bot, workspace, admin_user):
    make_service_account(workspace, name="other", by_user=admin_user)
    url = f"/v0/service_accounts/{bot.client_id}"
    assert_error(admin_api.put(url, {"name": "other"}, format="json"), 409)
    bot.refresh_from_db()
    assert bot.name == "bot"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": ""}, "name"), ({"role": "root"}, "role"), ({"secret": "x"}, "secret")],
)
def test_update_refuses_bad_input(admin_api, bot, body, field):
    url = f"/v0/service_accounts/{bot.client_id}"
    assert_error(admin_api.put(url, body, format="json"), 400, field)
    bot.refresh_from_db()
    assert (bot.name, bot.role) == ("bot", Role.MEMBER)


def test_delete_removes_the_account_and_its_keys(admin_api, bot, admin_user):
    _, raw_key = make_service_account_key(bot, by_user=admin_user)
    assert key_client(raw_key).get("/v0/users").status_code == 200
    response = admin_api.delete(f"/v0/service_accounts/{bot.client_id}")
    assert response.status_code == 200
    assert response.json()["name"] == "bot"
    assert not ServiceAccount.objects.filter(pk=bot.pk).exists()
    assert not ApiKey.objects.filter(service_account_id=bot.pk).exists()
    assert_error(key_client(raw_key).get("/v0/users"), 401)
    assert_error(admin_api.get(f"/v0/service_accounts/{bot.client_id}"), 404)


# --- API keys ---------------------------------------------------------------------------


def _create_key(api, account, **body):
    return api.post(f"/v0/service_accounts/{account.client_id}/api_keys", body, format="json")


def test_create_key_shows_it_once_and_stores_only_its_hash(admin_api, bot, admin_user):
    response = _create_key(admin_api, bot, name="ci", expires_in="30d")
    assert response.status_code == 200
    body = response.json()
    raw_key = body["apiKey"]
    row = ApiKey.objects.get(pk=int(body["id"]))
    assert row.key_hash == hash_key(raw_key)
    assert raw_key.startswith(row.prefix) and len(row.prefix) < len(raw_key)
    stored = [str(value) for value in ApiKey.objects.filter(pk=row.pk).values().get().values()]
    assert raw_key not in stored
    assert body["name"] == "ci"
    assert body["expires_in"] == "30d"
    assert body["sub"] == bot.client_id
    assert body["sub_type"] == "service_account"
    assert body["prefix"] == row.prefix
    assert body["createdBy"] == admin_user.email
    expires_at = datetime.fromisoformat(body["expiresAt"])
    assert abs(expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    entry = AuditLogEntry.objects.get(action="api_key.create")
    assert raw_key not in str(entry.changes)
    # Never again: not in the list, not in the detail of anything.
    listed = admin_api.get(f"/v0/service_accounts/{bot.client_id}/api_keys").json()
    assert [key["id"] for key in listed] == [body["id"]]
    assert "apiKey" not in listed[0]
    assert raw_key not in str(listed)


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [("24h", timedelta(hours=24)), ("1w", timedelta(weeks=1)), ("never", None), (None, None)],
)
def test_key_expiry_options(admin_api, bot, expires_in, lifetime):
    body = _create_key(admin_api, bot, name="k", expires_in=expires_in).json()
    row = ApiKey.objects.get(pk=int(body["id"]))
    if lifetime is None:
        assert row.expires_at is None and body["expiresAt"] is None
        assert body["expires_in"] == "never"
    else:
        assert abs(row.expires_at - (row.created_at + lifetime)) < timedelta(seconds=5)
        assert body["expires_in"] == expires_in


def test_key_name_defaults(admin_api, bot):
    assert _create_key(admin_api, bot).json()["name"] == "API key"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_in": "2d"}, "expires_in"),
        ({"expiresIn": "30d"}, "expiresIn"),  # the client sends snake_case
        ({"name": ""}, "name"),
    ],
)
def test_create_key_refuses_bad_input(admin_api, bot, body, field):
    response_body = assert_error(_create_key(admin_api, bot, **body), 400, field)
    if field == "expires_in":
        assert "24h, 1w, 30d, never" in response_body["fields"]["expires_in"]
    assert not ApiKey.objects.filter(service_account=bot).exists()


def test_service_account_key_works_without_a_workspace_header(bot, admin_user):
    _, raw_key = make_service_account_key(bot, by_user=admin_user)
    response = key_client(raw_key, workspace_name=None).get("/v0/users")
    assert response.status_code == 200
    assert admin_user.email in {user["email"] for user in response.json()}


def test_service_account_key_reaches_only_its_workspace(bot, admin_user, other_workspace):
    _, raw_key = make_service_account_key(bot, by_user=admin_user)
    assert_error(key_client(raw_key, workspace_name="globex").get("/v0/users"), 403)
    assert_error(key_client(raw_key).get("/v0/workspaces/globex"), 403)


def test_member_role_service_account_cannot_manage(bot, admin_user):
    _, raw_key = make_service_account_key(bot, by_user=admin_user)
    client = key_client(raw_key)
    assert_error(client.post("/v0/service_accounts", {"name": "x"}, format="json"), 403)
    assert_error(client.post("/v0/users", {"email": "a@example.com"}, format="json"), 403)


def test_admin_service_account_acts_and_is_audited(workspace, admin_user):
    ops = make_service_account(workspace, name="ops", role=Role.ADMIN, by_user=admin_user)
    _, raw_key = make_service_account_key(ops, by_user=admin_user)
    client = key_client(raw_key)
    created = client.post("/v0/service_accounts", {"name": "made-by-ops"}, format="json")
    assert created.status_code == 200
    new_key = client.post(
        f"/v0/service_accounts/{created.json()['client_id']}/api_keys", {}, format="json"
    )
    assert new_key.status_code == 200
    assert new_key.json()["createdBy"] is None
    assert client.post("/v0/users", {"email": "hire@example.com"}, format="json").status_code == 200
    labels = set(
        AuditLogEntry.objects.filter(
            action__in=["service_account.create", "api_key.create", "member.invite"],
            actor__isnull=True,
        ).values_list("actor_label", flat=True)
    )
    assert labels == {"service account ops"}


def test_revoke_key(admin_api, bot, admin_user):
    row, raw_key = make_service_account_key(bot, by_user=admin_user)
    assert key_client(raw_key).get("/v0/users").status_code == 200
    response = admin_api.delete(f"/v0/service_accounts/{bot.client_id}/api_keys/{row.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(row.pk)
    assert response.json()["revokedAt"] is not None
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert_error(key_client(raw_key).get("/v0/users"), 401)
    assert admin_api.get(f"/v0/service_accounts/{bot.client_id}/api_keys").json() == []
    # Revoked already: gone.
    assert_error(admin_api.delete(f"/v0/service_accounts/{bot.client_id}/api_keys/{row.pk}"), 404)
    assert AuditLogEntry.objects.filter(action="api_key.revoke").count() == 1


def test_revoke_unknown_key(admin_api, bot):
    for key_id in ("999999", "abc"):
        url = f"/v0/service_accounts/{bot.client_id}/api_keys/{key_id}"
        assert_error(admin_api.delete(url), 404)


def test_personal_key_id_is_not_a_service_account_key(admin_api, bot, admin_user, personal_key):
    personal_key(admin_user, name="mine")
    personal = ApiKey.objects.get(user=admin_user, name="mine")
    url = f"/v0/service_accounts/{bot.client_id}/api_keys/{personal.pk}"
    assert_error(admin_api.delete(url), 404)
    personal.refresh_from_db()
    assert personal.revoked_at is None
