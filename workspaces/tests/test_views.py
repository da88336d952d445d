"""The console's account and workspace screens: who may see and do what, bad input, and
what the user sees afterwards."""

import pytest
from django.urls import reverse

from workspaces import access, selectors, services
from workspaces.keys import hash_key
from workspaces.models import (
    ApiKey,
    AuditLogEntry,
    Invitation,
    Membership,
    ServiceAccount,
    Workspace,
)
from workspaces.permissions import Role
from workspaces.principals import Principal

pytestmark = pytest.mark.django_db

ALL_VISITORS = ["admin", "member", "outsider", "anonymous"]


def assert_login_redirect(response, path):
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={path}"


# --- role matrix of the pages -----------------------------------------------------------------

READ_PAGES = {
    # path: expected status for admin, member, outsider (anonymous always goes to login)
    "/acme/settings/": (200, 200, 404),
    "/acme/settings/team/": (200, 200, 404),
    "/acme/settings/service-accounts/": (200, 200, 404),
    "/acme/settings/service-accounts/{client_id}/": (200, 200, 404),
    "/acme/settings/audit-log/": (200, 403, 404),
    "/acme/": (302, 302, 404),
}


@pytest.mark.parametrize("visitor", ALL_VISITORS)
@pytest.mark.parametrize("path_template", list(READ_PAGES))
def test_workspace_pages_role_matrix(clients, service_account, visitor, path_template):
    path = path_template.format(client_id=service_account.client_id)
    response = clients[visitor].get(path)
    if visitor == "anonymous":
        assert_login_redirect(response, path)
        return
    expected = dict(zip(["admin", "member", "outsider"], READ_PAGES[path_template], strict=True))
    assert response.status_code == expected[visitor]


def test_a_workspace_that_does_not_exist_is_the_same_404(admin_client):
    assert admin_client.get("/nope/settings/").status_code == 404
    assert admin_client.get("/globex-not-here/settings/team/").status_code == 404


@pytest.mark.parametrize("path", ["/workspaces/new/", "/profile/security/"])
@pytest.mark.parametrize("visitor", ALL_VISITORS)
def test_personal_pages_need_only_a_login(clients, visitor, path):
    response = clients[visitor].get(path)
    if visitor == "anonymous":
        assert_login_redirect(response, path)
    else:
        assert response.status_code == 200


def test_home_signed_out_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")


def test_home_with_workspaces_goes_to_the_first_then_the_last_used(
    admin_client, admin_user, workspace, other_workspace
):
    services.workspace_create(name="zeta", display_name="Zeta", creator=admin_user)
    assert admin_client.get("/")["Location"] == "/acme/"
    admin_client.get("/zeta/settings/")
    assert admin_client.get("/")["Location"] == "/zeta/"
    # Someone else's workspace is never the target, whatever the session says.
    session = admin_client.session
    session["last_workspace"] = "globex"
    session.save()
    assert admin_client.get("/")["Location"] == "/acme/"


def test_home_without_a_workspace_asks_to_create_one(make_user, client):
    user = make_user("lonely@example.com")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("workspace_create")
    assert "Create your workspace" in response.content.decode()


def test_workspace_home_opens_its_model_apis_or_else_its_settings(admin_client):
    from django.urls import Resolver404, resolve

    response = admin_client.get("/acme/")
    try:
        resolve("/acme/models/")
    except Resolver404:
        assert response["Location"] == "/acme/settings/"
    else:
        assert response["Location"] == "/acme/models/"


# --- header -------------------------------------------------------------------------------


def test_header_switcher_lists_only_my_workspaces_and_marks_the_current_one(
    admin_client, admin_user, other_workspace
):
    services.workspace_create(name="zeta", display_name="Zeta Team", creator=admin_user)
    html = admin_client.get("/acme/settings/").content.decode()
    assert 'href="/acme/" aria-current="true"' in html
    assert 'href="/zeta/"' in html and "Zeta Team" in html
    assert "/globex/" not in html
    assert 'href="/workspaces/new/"' in html
    assert "ada@example.com" in html  # the user menu
    assert 'aria-current="page">Workspace settings<' in html


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


# --- writes: admins only; members 403 and nothing changes; outsiders 404 -----------------------


def _post_targets(workspace, member_user, service_account, invitation_pk):
    member = Membership.objects.get(workspace=workspace, user=member_user)
    key, _ = services.service_account_api_key_create(
        service_account=service_account,
        name="k",
        actor=Principal.for_user(workspace.created_by),
    )
    client_id = service_account.client_id
    return [
        ("/acme/settings/", {"display_name": "Hacked"}),
        ("/acme/settings/delete/", {"confirm_name": "acme"}),
        ("/acme/settings/team/", {"email": "intruder@example.com", "role": "admin"}),
        (f"/acme/settings/team/members/{member.pk}/role/", {"role": "admin"}),
        (f"/acme/settings/team/members/{member.pk}/remove/", {}),
        (f"/acme/settings/team/invitations/{invitation_pk}/resend/", {}),
        (f"/acme/settings/team/invitations/{invitation_pk}/revoke/", {}),
        ("/acme/settings/service-accounts/", {"name": "sneaky", "role": "admin"}),
        (f"/acme/settings/service-accounts/{client_id}/", {"name": "x", "expires_in": "never"}),
        (f"/acme/settings/service-accounts/{client_id}/keys/{key.pk}/revoke/", {}),
        (f"/acme/settings/service-accounts/{client_id}/delete/", {}),
    ]


def _snapshot(workspace):
    """Everything an admin write could change, to compare before and after."""
    return {
        "workspace": list(Workspace.objects.values_list("name", "display_name")),
        "members": list(
            Membership.objects.order_by("pk").values_list("user_id", "role", "workspace_id")
        ),
        "invitations": list(
            Invitation.objects.order_by("pk").values_list("email", "token_hash", "revoked_at")
        ),
        "accounts": list(ServiceAccount.objects.order_by("pk").values_list("name", "role")),
        "keys": list(ApiKey.objects.order_by("pk").values_list("key_hash", "revoked_at")),
        "audit": AuditLogEntry.objects.count(),
    }


@pytest.mark.parametrize("visitor", ["member", "outsider", "anonymous"])
def test_crafted_writes_are_refused_and_change_nothing(
    clients, workspace, member_user, service_account, invitation, visitor
):
    targets = _post_targets(workspace, member_user, service_account, invitation[0].pk)
    before = _snapshot(workspace)
    for path, data in targets:
        response = clients[visitor].post(path, data)
        if visitor == "member":
            assert response.status_code == 403, path
        elif visitor == "outsider":
            assert response.status_code == 404, path
        else:
            assert_login_redirect(response, path)
    assert _snapshot(workspace) == before


def test_admin_post_only_actions_refuse_get(admin_client, workspace, member_user):
    member = Membership.objects.get(workspace=workspace, user=member_user)
    for path in [
        "/acme/settings/delete/",
        f"/acme/settings/team/members/{member.pk}/remove/",
        "/acme/settings/team/leave/",
    ]:
        assert admin_client.get(path).status_code == 405
    assert Membership.objects.filter(pk=member.pk).exists()


# --- another workspace's objects are 404, even for an admin ----------------------------------


def test_admin_cannot_reach_another_workspaces_objects(
    admin_client, workspace, other_workspace, outsider, other_service_account
):
    globex_member = Membership.objects.get(workspace=other_workspace, user=outsider)
    other_invitation = services.invitation_create(
        workspace=other_workspace,
        email="x@example.com",
        role="member",
        actor=Principal.for_user(outsider),
    )
    other_key, _ = services.service_account_api_key_create(
        service_account=other_service_account,
        name="k",
        actor=Principal.for_user(outsider),
    )
    own_account = services.service_account_create(
        workspace=workspace,
        name="own",
        actor=Principal.for_user(workspace.created_by),
    )
    client_id = other_service_account.client_id
    before = _snapshot(workspace)
    gets = [f"/acme/settings/service-accounts/{client_id}/", "/globex/settings/"]
    for path in gets:
        assert admin_client.get(path).status_code == 404, path
    posts = [
        f"/acme/settings/team/members/{globex_member.pk}/role/",
        f"/acme/settings/team/members/{globex_member.pk}/remove/",
        f"/acme/settings/team/invitations/{other_invitation.pk}/resend/",
        f"/acme/settings/team/invitations/{other_invitation.pk}/revoke/",
        f"/acme/settings/service-accounts/{client_id}/",
        f"/acme/settings/service-accounts/{client_id}/delete/",
        # Another account's key through one of our own accounts.
        f"/acme/settings/service-accounts/{own_account.client_id}/keys/{other_key.pk}/revoke/",
    ]
    for path in posts:
        response = admin_client.post(path, {"role": "member", "name": "x", "expires_in": "never"})
        assert response.status_code == 404, path
    assert _snapshot(workspace) == before


# --- team ---------------------------------------------------------------------------------------


def test_team_page_lists_members_and_admin_controls(admin_client, workspace):
    response = admin_client.get("/acme/settings/team/")
    html = response.content.decode()
    assert "ada@example.com" in html and "max@example.com" in html
    assert "Send invitation" in html
    assert 'name="role"' in html
    assert "Remove<span" in html


def test_team_page_for_members_has_no_admin_controls(member_client):
    html = member_client.get("/acme/settings/team/").content.decode()
    assert "ada@example.com" in html and "max@example.com" in html
    assert "Send invitation" not in html
    assert "<select" not in html
    assert "Remove<span" not in html
    assert "Resend" not in html
    assert "Leave workspace" in html


def test_invite_sends_mail_and_lists_the_invitation(
    admin_client, workspace, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/acme/settings/team/", {"email": "Newbie@Example.com", "role": "admin"}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(workspace=workspace)
    assert invitation.role == Role.ADMIN
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [invitation.email]
    assert "/invitations/" in mailoutbox[0].body
    html = admin_client.get("/acme/settings/team/").content.decode()
    assert "Invitation sent to" in html
    assert invitation.email in html and "Pending" in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email", "role": "member"}, "email", "valid email"),
        ({"email": "", "role": "member"}, "email", "required"),
        ({"email": "ok@example.com", "role": "owner"}, "role", "valid choice"),
        ({"email": "max@example.com", "role": "member"}, "email", "already a member"),
    ],
)
def test_invite_bad_input_is_a_field_error(admin_client, workspace, data, field, message):
    response = admin_client.post("/acme/settings/team/", data)
    assert response.status_code == 200
    errors = response.context["invite_form"].errors
    assert any(message in error for error in errors[field]), errors
    assert not Invitation.objects.exists()


def test_invite_twice_is_refused(admin_client, workspace, invitation):
    response = admin_client.post(
        "/acme/settings/team/", {"email": "new@example.com", "role": "member"}
    )
    assert "already has a pending invitation" in str(response.context["invite_form"].errors)
    assert Invitation.objects.count() == 1


def test_admin_changes_a_role(admin_client, workspace, member_user):
    member = Membership.objects.get(workspace=workspace, user=member_user)
    response = admin_client.post(
        f"/acme/settings/team/members/{member.pk}/role/", {"role": "admin"}, follow=True
    )
    member.refresh_from_db()
    assert member.role == Role.ADMIN
    assert "max@example.com is now Admin." in response.content.decode()
    assert AuditLogEntry.objects.filter(action="member.role_change").exists()


def test_invalid_role_changes_nothing(admin_client, workspace, member_user):
    member = Membership.objects.get(workspace=workspace, user=member_user)
    response = admin_client.post(
        f"/acme/settings/team/members/{member.pk}/role/", {"role": "owner"}, follow=True
    )
    member.refresh_from_db()
    assert member.role == Role.MEMBER
    assert "Choose a valid role." in response.content.decode()


def test_admin_removes_a_member(admin_client, workspace, member_user):
    member = Membership.objects.get(workspace=workspace, user=member_user)
    response = admin_client.post(f"/acme/settings/team/members/{member.pk}/remove/", follow=True)
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert "max@example.com was removed from the workspace." in response.content.decode()
    assert AuditLogEntry.objects.filter(action="member.remove").exists()


def test_a_member_leaves(member_client, workspace, member_user):
    response = member_client.post("/acme/settings/team/leave/", follow=True)
    assert not Membership.objects.filter(workspace=workspace, user=member_user).exists()
    assert "You left the workspace “Acme Corp”." in response.content.decode()
    # They no longer reach it.
    assert member_client.get("/acme/settings/").status_code == 404


def test_an_admin_leaves_when_another_admin_remains(admin_client, workspace, member_user):
    Membership.objects.filter(user=member_user).update(role=Role.ADMIN)
    admin_client.post("/acme/settings/team/leave/")
    assert Membership.objects.filter(workspace=workspace).count() == 1


class TestLastAdmin:
    """A workspace always keeps an admin: no demotion, removal or leaving of the last one."""

    def test_cannot_be_demoted(self, admin_client, workspace, admin_user):
        own = Membership.objects.get(workspace=workspace, user=admin_user)
        response = admin_client.post(
            f"/acme/settings/team/members/{own.pk}/role/", {"role": "member"}, follow=True
        )
        own.refresh_from_db()
        assert own.role == Role.ADMIN
        assert "The last admin of a workspace cannot be demoted." in response.content.decode()

    def test_cannot_be_removed(self, admin_client, workspace, admin_user):
        own = Membership.objects.get(workspace=workspace, user=admin_user)
        response = admin_client.post(f"/acme/settings/team/members/{own.pk}/remove/", follow=True)
        assert Membership.objects.filter(pk=own.pk).exists()
        assert "can neither leave nor be removed" in response.content.decode()

    def test_cannot_leave(self, admin_client, workspace, admin_user):
        response = admin_client.post("/acme/settings/team/leave/", follow=True)
        assert Membership.objects.filter(workspace=workspace, user=admin_user).exists()
        assert "You are the last admin of this workspace" in response.content.decode()

    def test_another_admin_can_demote_the_first(self, admin_client, workspace, member_user):
        Membership.objects.filter(user=member_user).update(role=Role.ADMIN)
        admin = Membership.objects.get(
            workspace=workspace, role=Role.ADMIN, user__email="ada@example.com"
        )
        admin_client.post(f"/acme/settings/team/members/{admin.pk}/role/", {"role": "member"})
        admin.refresh_from_db()
        assert admin.role == Role.MEMBER
        # Max is now the only admin.
        assert selectors.admin_count(workspace=workspace) == 1


# --- service accounts and keys -------------------------------------------------------------------


def test_create_service_account(admin_client, workspace):
    response = admin_client.post(
        "/acme/settings/service-accounts/",
        {"name": "deployer", "description": "Deploys", "role": "admin"},
    )
    account = ServiceAccount.objects.get(workspace=workspace, name="deployer")
    assert response["Location"] == f"/acme/settings/service-accounts/{account.client_id}/"
    assert account.role == Role.ADMIN and account.description == "Deploys"
    assert AuditLogEntry.objects.filter(action="service_account.create").exists()
    assert "deployer" in admin_client.get("/acme/settings/service-accounts/").content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "role": "member"}, "name", "required"),
        ({"name": "x" * 101, "role": "member"}, "name", "at most 100"),
        ({"name": "ok", "role": "root"}, "role", "valid choice"),
        ({"name": "ci-bot", "role": "member"}, "name", "already exists"),
    ],
)
def test_create_service_account_bad_input(admin_client, service_account, data, field, message):
    before = ServiceAccount.objects.count()
    response = admin_client.post("/acme/settings/service-accounts/", data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert ServiceAccount.objects.count() == before


def test_service_accounts_read_only_for_members(member_client, service_account):
    html = member_client.get("/acme/settings/service-accounts/").content.decode()
    assert "ci-bot" in html
    assert "Create service account" not in html
    detail = member_client.get(
        f"/acme/settings/service-accounts/{service_account.client_id}/"
    ).content.decode()
    assert "Create key" not in detail and "Delete ci-bot" not in detail


def test_service_account_key_is_shown_once(admin_client, service_account):
    path = f"/acme/settings/service-accounts/{service_account.client_id}/"
    response = admin_client.post(path, {"name": "deploy", "expires_in": "1w"})
    assert response.status_code == 200  # rendered in the POST response, no redirect
    raw_key = response.context["new_key"]
    html = response.content.decode()
    assert raw_key in html and "shown only this once" in html
    assert "no-store" in response["Cache-Control"]
    row = ApiKey.objects.get(service_account=service_account)
    assert row.key_hash != raw_key and raw_key not in (row.prefix, row.name)
    assert raw_key.startswith(row.prefix)
    assert AuditLogEntry.objects.filter(action="api_key.create").exists()
    assert raw_key not in str(AuditLogEntry.objects.values_list("changes", flat=True))
    # It works as a credential …
    assert (
        access.key_grant(key_hash=hash_key(raw_key)).principal.service_account_id
        == service_account.pk
    )
    # … and no later page shows it again.
    for later in [path, "/acme/settings/service-accounts/", "/acme/settings/audit-log/"]:
        page = admin_client.get(later).content.decode()
        assert raw_key not in page
    assert row.prefix in admin_client.get(path).content.decode()
    assert not any(raw_key in str(value) for value in admin_client.session.values())


@pytest.mark.parametrize(("expires_in", "hours"), [("24h", 24), ("1w", 168), ("30d", 720)])
def test_service_account_key_expiry_choices(admin_client, service_account, expires_in, hours):
    from django.utils import timezone

    path = f"/acme/settings/service-accounts/{service_account.client_id}/"
    admin_client.post(path, {"name": "k", "expires_in": expires_in})
    row = ApiKey.objects.get(service_account=service_account)
    remaining = (row.expires_at - timezone.now()).total_seconds() / 3600
    assert hours - 1 < remaining <= hours


def test_service_account_key_never_expires(admin_client, service_account):
    path = f"/acme/settings/service-accounts/{service_account.client_id}/"
    admin_client.post(path, {"name": "k", "expires_in": "never"})
    assert ApiKey.objects.get(service_account=service_account).expires_at is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "expires_in": "never"}, "name"),
        ({"name": "k", "expires_in": "2y"}, "expires_in"),
    ],
)
def test_service_account_key_bad_input(admin_client, service_account, data, field):
    path = f"/acme/settings/service-accounts/{service_account.client_id}/"
    response = admin_client.post(path, data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert "new_key" not in response.context
    assert not ApiKey.objects.exists()


def test_revoke_service_account_key(admin_client, service_account, admin_principal):
    row, raw_key = services.service_account_api_key_create(
        service_account=service_account, name="k", actor=admin_principal
    )
    base = f"/acme/settings/service-accounts/{service_account.client_id}/"
    response = admin_client.post(f"{base}keys/{row.pk}/revoke/", follow=True)
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert access.key_grant(key_hash=hash_key(raw_key)) is None
    html = response.content.decode()
    assert f"Key {row.prefix}… revoked." in html
    assert "Revoked" in html
    assert AuditLogEntry.objects.filter(action="api_key.revoke").exists()


def test_expired_key_is_shown_expired_and_refused(admin_client, service_account, admin_principal):
    from datetime import timedelta

    from django.utils import timezone

    row, raw_key = services.service_account_api_key_create(
        service_account=service_account, name="old", expires_in="24h", actor=admin_principal
    )
    ApiKey.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    html = admin_client.get(
        f"/acme/settings/service-accounts/{service_account.client_id}/"
    ).content.decode()
    assert "Expired" in html
    assert access.key_grant(key_hash=hash_key(raw_key)) is None


def test_delete_service_account(admin_client, service_account, admin_principal):
    _, raw_key = services.service_account_api_key_create(
        service_account=service_account, name="k", actor=admin_principal
    )
    response = admin_client.post(
        f"/acme/settings/service-accounts/{service_account.client_id}/delete/", follow=True
    )
    assert not ServiceAccount.objects.filter(pk=service_account.pk).exists()
    assert not ApiKey.objects.exists()
    assert access.key_grant(key_hash=hash_key(raw_key)) is None
    assert "Service account “ci-bot” and its keys deleted." in response.content.decode()


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


# --- profile: personal keys ----------------------------------------------------------------------


def test_personal_key_is_shown_once_and_reaches_my_workspaces(admin_client, admin_user):
    response = admin_client.post("/profile/security/", {"name": "laptop", "expires_in": "30d"})
    assert response.status_code == 200
    raw_key = response.context["new_key"]
    assert raw_key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    row = ApiKey.objects.get(user=admin_user)
    assert row.key_hash != raw_key
    assert access.key_grant(key_hash=hash_key(raw_key)).principal.user_id == admin_user.pk
    later = admin_client.get("/profile/security/").content.decode()
    assert raw_key not in later and row.prefix in later
    assert "Change your password" in later


def test_personal_key_bad_input(admin_client, admin_user):
    response = admin_client.post("/profile/security/", {"name": "", "expires_in": "forever"})
    errors = response.context["form"].errors
    assert "name" in errors and "expires_in" in errors
    assert not ApiKey.objects.exists()


def test_revoke_personal_key(admin_client, admin_user, personal_key):
    raw_key = personal_key(admin_user)
    row = ApiKey.objects.get(user=admin_user)
    response = admin_client.post(f"/profile/security/keys/{row.pk}/revoke/", follow=True)
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert access.key_grant(key_hash=hash_key(raw_key)) is None
    assert f"Key {row.prefix}… revoked." in response.content.decode()


def test_cannot_revoke_or_see_someone_elses_personal_key(
    admin_client, member_client, admin_user, personal_key
):
    raw_key = personal_key(admin_user)
    row = ApiKey.objects.get(user=admin_user)
    assert member_client.post(f"/profile/security/keys/{row.pk}/revoke/").status_code == 404
    row.refresh_from_db()
    assert row.revoked_at is None
    assert row.prefix not in member_client.get("/profile/security/").content.decode()
    assert access.key_grant(key_hash=hash_key(raw_key)) is not None


def test_anonymous_cannot_create_personal_keys(client):
    response = client.post("/profile/security/", {"name": "x", "expires_in": "never"})
    assert_login_redirect(response, "/profile/security/")
    assert not ApiKey.objects.exists()


# --- error pages -------------------------------------------------------------------------------


def test_error_pages_use_the_console_layout(member_client):
    forbidden = member_client.get("/acme/settings/audit-log/")
    assert forbidden.status_code == 403
    html = forbidden.content.decode()
    assert "You can’t do that here" in html and 'class="topbar"' in html
    missing = member_client.get("/globex/settings/")
    assert missing.status_code == 404
    assert "Page not found" in missing.content.decode()
