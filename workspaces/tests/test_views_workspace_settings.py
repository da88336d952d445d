"""A workspace's own screens: creating one (its creator becomes admin; bad names are
field errors), the settings page (admins rename and delete, members read), and the
audit log of admin actions."""

import pytest

from workspaces import services
from workspaces.models import AuditLogEntry, Membership, Workspace
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


# --- workspace creation ----------------------------------------------------------------------


def test_create_workspace_makes_the_creator_admin(admin_client, admin_user):
    response = admin_client.post(
        "/workspaces/new/", {"name": "new-team", "display_name": "New Team"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/new-team/"
    workspace = Workspace.objects.get(name="new-team")
    assert workspace.display_name == "New Team"
    assert Membership.objects.get(workspace=workspace, user=admin_user).role == Role.ADMIN
    assert AuditLogEntry.objects.filter(workspace=workspace, action="workspace.create").exists()
    page = admin_client.get("/new-team/settings/").content.decode()
    assert "Workspace “New Team” created." in page


def test_create_workspace_display_name_defaults_to_the_name(admin_client):
    admin_client.post("/workspaces/new/", {"name": "plain", "display_name": ""})
    assert Workspace.objects.get(name="plain").display_name == "plain"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Acme-Upper", "lowercase letters"),
        ("-leading", "lowercase letters"),
        ("trailing-", "lowercase letters"),
        ("has space", "lowercase letters"),
        ("under_score", "lowercase letters"),
        ("dots.dots", "lowercase letters"),
        ("", "This field is required."),
        ("a" * 41, "at most 40 characters"),
        ("run", "is reserved"),
        ("v0", "is reserved"),
        ("accounts", "is reserved"),
        ("static", "is reserved"),
        ("admin", "is reserved"),
        ("acme", "already exists"),
    ],
)
def test_create_workspace_bad_names_are_field_errors(admin_client, workspace, name, message):
    before = Workspace.objects.count()
    response = admin_client.post("/workspaces/new/", {"name": name, "display_name": "X"})
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors["name"]), form.errors
    assert Workspace.objects.count() == before
    # Shown next to the field, with the field marked invalid.
    html = response.content.decode()
    assert 'id="id_name_error"' in html
    assert 'aria-invalid="true"' in html


def test_create_workspace_too_long_display_name(admin_client):
    response = admin_client.post("/workspaces/new/", {"name": "ok-name", "display_name": "x" * 101})
    assert "display_name" in response.context["form"].errors
    assert not Workspace.objects.filter(name="ok-name").exists()


# --- settings --------------------------------------------------------------------------------


def test_admin_renames_the_display_name_and_it_is_audited(admin_client, workspace):
    response = admin_client.post("/acme/settings/", {"display_name": "Acme Inc"}, follow=True)
    assert "Workspace settings saved." in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.display_name == "Acme Inc"
    assert workspace.name == "acme"
    entry = AuditLogEntry.objects.get(workspace=workspace, action="workspace.rename")
    assert entry.changes == {"display_name": ["Acme Corp", "Acme Inc"]}


def test_the_name_cannot_be_changed_through_the_form(admin_client, workspace):
    admin_client.post("/acme/settings/", {"display_name": "Acme", "name": "hijacked"})
    workspace.refresh_from_db()
    assert workspace.name == "acme"


def test_empty_display_name_is_a_field_error(admin_client, workspace):
    response = admin_client.post("/acme/settings/", {"display_name": ""})
    assert response.status_code == 200
    assert "display_name" in response.context["form"].errors
    workspace.refresh_from_db()
    assert workspace.display_name == "Acme Corp"


def test_members_see_settings_read_only(member_client):
    html = member_client.get("/acme/settings/").content.decode()
    assert "Only admins can change these settings." in html
    assert 'name="display_name"' not in html
    assert "Delete this workspace" not in html
    assert "/acme/settings/audit-log/" not in html


def test_admins_see_the_edit_and_delete_forms(admin_client):
    html = admin_client.get("/acme/settings/").content.decode()
    assert 'name="display_name"' in html
    assert "Delete this workspace" in html
    assert "/acme/settings/audit-log/" in html


def test_delete_workspace_needs_the_typed_name(admin_client, workspace):
    response = admin_client.post("/acme/settings/delete/", {"confirm_name": "acme-nope"})
    assert response.status_code == 200
    assert "confirm_name" in response.context["delete_form"].errors
    assert Workspace.objects.filter(name="acme").exists()


def test_delete_workspace(admin_client, workspace):
    response = admin_client.post("/acme/settings/delete/", {"confirm_name": "acme"}, follow=True)
    assert not Workspace.objects.filter(name="acme").exists()
    assert "Workspace “Acme Corp” deleted." in response.content.decode()
    entry = AuditLogEntry.objects.get(workspace_name="acme", action="workspace.delete")
    assert entry.workspace is None  # the entry outlives the workspace


# --- audit log ----------------------------------------------------------------------------------


def test_audit_log_shows_admin_actions_of_this_workspace_only(
    admin_client, workspace, other_workspace, service_account
):
    html = admin_client.get("/acme/settings/audit-log/").content.decode()
    assert "service_account.create" in html and "ci-bot" in html
    assert "workspace.create" in html
    assert "globex" not in html


def test_audit_log_is_paginated(admin_client, workspace, admin_principal):
    for number in range(60):
        services.audit_log_record(
            workspace=workspace,
            actor=admin_principal,
            action="test.action",
            target_type="thing",
            target_label=f"thing-{number:02d}",
        )
    first = admin_client.get("/acme/settings/audit-log/")
    assert len(first.context["page_obj"].object_list) == 50
    assert "thing-59" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()
    second = admin_client.get("/acme/settings/audit-log/?page=2").content.decode()
    assert "thing-00" in second and "thing-59" not in second
    # A page number out of range shows the last page rather than an error.
    assert admin_client.get("/acme/settings/audit-log/?page=99").status_code == 200
