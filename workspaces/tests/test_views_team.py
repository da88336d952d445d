"""The team screen: members and pending invitations, invitations sent by mail, role
changes, removal and leaving, and a workspace that always keeps its last admin."""

import pytest

from workspaces import selectors
from workspaces.models import AuditLogEntry, Invitation, Membership
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


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

    def test_the_last_admin_is_offered_neither_leaving_nor_a_role_change(
        self, admin_client, workspace, admin_user, member_user
    ):
        own = Membership.objects.get(workspace=workspace, user=admin_user)
        other = Membership.objects.get(workspace=workspace, user=member_user)
        html = admin_client.get("/acme/settings/team/").content.decode()
        assert f'id="role-{own.pk}"' not in html  # what the server would refuse
        assert f'id="role-{other.pk}"' in html
        assert "Leave workspace</button>" not in html
        assert "You are the only admin of Acme Corp, so you cannot leave it" in html

        other.role = Role.ADMIN
        other.save()
        html = admin_client.get("/acme/settings/team/").content.decode()
        assert f'id="role-{own.pk}"' in html
        assert "Leave workspace</button>" in html

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
