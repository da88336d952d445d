"""Who reaches the console's account and workspace screens: the role matrix of the
pages, one 404 for a workspace that is missing or not yours, personal pages behind a
login, admin-only writes refused (and changing nothing) for members, outsiders and
anonymous visitors, and another workspace's objects out of an admin's reach."""

import pytest

from blaxel_console.testing.people import assert_login_redirect
from workspaces import services
from workspaces.models import (
    ApiKey,
    AuditLogEntry,
    Invitation,
    Membership,
    ServiceAccount,
    Workspace,
)
from workspaces.principals import Principal

pytestmark = pytest.mark.django_db

ALL_VISITORS = ["admin", "member", "outsider", "anonymous"]


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
