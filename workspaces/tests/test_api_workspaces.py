"""`/v0/workspaces`: shapes, create/update/delete/leave, and bad input."""

from datetime import datetime

import pytest

from blaxel_console.testing.api import assert_error, key_client
from blaxel_console.testing.people import make_service_account, make_service_account_key
from workspaces.models import AuditLogEntry, Membership, Workspace
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


def test_list_shows_only_the_callers_workspaces(admin_api, other_workspace, admin_user):
    response = admin_api.get("/v0/workspaces")
    assert response.status_code == 200
    body = response.json()
    assert [item["name"] for item in body] == ["acme"]
    acme = body[0]
    assert acme["displayName"] == "Acme Corp"
    assert acme["createdBy"] == admin_user.email
    assert acme["status"] == "ready"
    assert acme["labels"] == {}
    assert acme["id"] == str(Workspace.objects.get(name="acme").pk)
    # ISO 8601 dates, camelCase keys
    datetime.fromisoformat(acme["createdAt"])
    datetime.fromisoformat(acme["updatedAt"])
    assert not any("_" in key for key in acme)


def test_list_ignores_the_envelope_header(admin_api):
    # Blaxel's client reads this list as a plain array whatever the version it sends.
    response = admin_api.get("/v0/workspaces", HTTP_BLAXEL_VERSION="2026-09-22")
    assert [item["name"] for item in response.json()] == ["acme"]


def test_a_service_account_sees_only_its_workspace(workspace, other_workspace, admin_user):
    account = make_service_account(workspace, name="bot", by_user=admin_user)
    _, raw_key = make_service_account_key(account, by_user=admin_user)
    response = key_client(raw_key, workspace_name=None).get("/v0/workspaces")
    assert [item["name"] for item in response.json()] == ["acme"]


def test_create_makes_the_creator_admin(admin_api, admin_user):
    response = admin_api.post(
        "/v0/workspaces", {"name": "newco", "displayName": "New Co"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["name"] == "newco"
    assert response.json()["displayName"] == "New Co"
    workspace = Workspace.objects.get(name="newco")
    assert Membership.objects.get(workspace=workspace).user == admin_user
    assert Membership.objects.get(workspace=workspace).role == Role.ADMIN
    assert AuditLogEntry.objects.filter(workspace=workspace, action="workspace.create").exists()
    # The new workspace is reachable with the same personal key.
    other = admin_api.get("/v0/workspaces/newco")
    assert other.status_code == 200


def test_create_without_display_name_uses_the_name(admin_api):
    response = admin_api.post("/v0/workspaces", {"name": "plain"}, format="json")
    assert response.json()["displayName"] == "plain"


def test_create_tolerates_read_only_keys(admin_api):
    body = {"name": "copied", "displayName": "Copied", "status": "ready", "createdAt": "x"}
    response = admin_api.post("/v0/workspaces", body, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Not A Slug"}, "name"),
        ({"name": "-leading"}, "name"),
        ({"name": "under_score"}, "name"),
        ({"name": "v0"}, "name"),  # reserved
        ({"name": "run"}, "name"),  # reserved
        ({"name": "x" * 41}, "name"),
        ({}, "name"),
        ({"name": "ok-name", "displayName": "y" * 101}, "displayName"),
        ({"name": "ok-name", "colour": "blue"}, "colour"),  # unknown key
    ],
)
def test_create_refuses_bad_input(admin_api, body, field):
    before = Workspace.objects.count()
    body_json = assert_error(admin_api.post("/v0/workspaces", body, format="json"), 400, field)
    assert body_json["error"] == "bad_request"
    assert Workspace.objects.count() == before
    assert not Membership.objects.filter(workspace__name="ok-name").exists()


def test_unknown_key_error_names_the_key_and_the_settable_fields(admin_api):
    body = assert_error(
        admin_api.post("/v0/workspaces", {"name": "a", "colour": "blue"}, format="json"),
        400,
        "colour",
    )
    assert "Unknown field" in body["fields"]["colour"]
    assert "displayName" in body["fields"]["colour"]


def test_create_duplicate_is_a_conflict(admin_api, other_workspace):
    body = assert_error(admin_api.post("/v0/workspaces", {"name": "globex"}, format="json"), 409)
    assert body["error"] == "conflict"
    assert "already exists" in body["message"]
    assert Workspace.objects.filter(name="globex").count() == 1


def test_service_account_cannot_create_a_workspace(workspace, admin_user):
    account = make_service_account(workspace, name="bot", role=Role.ADMIN, by_user=admin_user)
    _, raw_key = make_service_account_key(account, by_user=admin_user)
    response = key_client(raw_key).post("/v0/workspaces", {"name": "botco"}, format="json")
    assert_error(response, 403)
    assert not Workspace.objects.filter(name="botco").exists()


def test_get_one(member_api):
    response = member_api.get("/v0/workspaces/acme")
    assert response.status_code == 200
    assert response.json()["name"] == "acme"


def test_get_unknown_is_no_access(admin_api):
    # Like a workspace that exists out of reach (DESIGN.md §3: /v0 answers 403).
    body = assert_error(admin_api.get("/v0/workspaces/nope"), 403)
    assert body["message"] == "You have no access to the workspace “nope”."


def test_url_workspace_wins_over_the_header(admin_api, other_workspace):
    # The header says acme; the URL names globex, which ada cannot reach.
    body = assert_error(admin_api.get("/v0/workspaces/globex"), 403)
    assert body["message"] == "You have no access to the workspace “globex”."


def test_update_display_name(admin_api, workspace):
    response = admin_api.put("/v0/workspaces/acme", {"displayName": "Acme Inc"}, format="json")
    assert response.status_code == 200
    assert response.json()["displayName"] == "Acme Inc"
    workspace.refresh_from_db()
    assert workspace.display_name == "Acme Inc"
    entry = AuditLogEntry.objects.get(workspace=workspace, action="workspace.rename")
    assert entry.changes == {"display_name": ["Acme Corp", "Acme Inc"]}


def test_update_accepts_a_body_copied_from_get(admin_api, workspace):
    body = admin_api.get("/v0/workspaces/acme").json()
    body["displayName"] = "Round Trip"
    response = admin_api.put("/v0/workspaces/acme", body, format="json")
    assert response.status_code == 200
    workspace.refresh_from_db()
    assert workspace.display_name == "Round Trip"
    assert workspace.name == "acme"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "renamed"}, "name"),
        ({"displayName": ""}, "displayName"),
        ({"displayName": "ok", "owner": "me"}, "owner"),
    ],
)
def test_update_refuses_bad_input(admin_api, workspace, body, field):
    assert_error(admin_api.put("/v0/workspaces/acme", body, format="json"), 400, field)
    workspace.refresh_from_db()
    assert (workspace.name, workspace.display_name) == ("acme", "Acme Corp")


def test_delete_returns_the_deleted_workspace(admin_api, member_user, personal_key):
    response = admin_api.delete("/v0/workspaces/acme")
    assert response.status_code == 200
    assert response.json()["name"] == "acme"
    assert not Workspace.objects.filter(name="acme").exists()
    assert AuditLogEntry.objects.filter(workspace_name="acme", action="workspace.delete").exists()
    # Former members lose access.
    member = key_client(personal_key(member_user))
    assert_error(member.get("/v0/users"), 403)


def test_member_leaves(member_api, member_user, workspace):
    response = member_api.delete("/v0/workspaces/acme/leave")
    assert response.status_code == 200
    assert response.json()["name"] == "acme"
    assert not Membership.objects.filter(workspace=workspace, user=member_user).exists()
    assert AuditLogEntry.objects.filter(workspace=workspace, action="member.leave").exists()


def test_last_admin_cannot_leave(admin_api, admin_user, workspace):
    body = assert_error(admin_api.delete("/v0/workspaces/acme/leave"), 409)
    assert "last admin" in body["message"]
    assert Membership.objects.filter(workspace=workspace, user=admin_user).exists()


def test_second_admin_may_leave(admin_api, admin_user, member_user, workspace):
    Membership.objects.filter(workspace=workspace, user=member_user).update(role=Role.ADMIN)
    assert admin_api.delete("/v0/workspaces/acme/leave").status_code == 200
    assert not Membership.objects.filter(workspace=workspace, user=admin_user).exists()
