"""`/v0/users`: the team list, invitations, role changes, removal and leaving."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from blaxel_console.testing.api import assert_error
from workspaces.models import AuditLogEntry, Invitation, Membership
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


def _invite(api, email, role=None):
    body = {"email": email} if role is None else {"email": email, "role": role}
    return api.post("/v0/users", body, format="json")


def test_list_shows_members_then_open_invitations(
    admin_api, admin_user, member_user, other_workspace, outsider
):
    admin_user.first_name, admin_user.last_name = "Ada", "Lovelace"
    admin_user.save()
    assert _invite(admin_api, "newbie@example.com").status_code == 200
    response = admin_api.get("/v0/users")
    assert response.status_code == 200
    users = response.json()
    assert [user["email"] for user in users] == [
        admin_user.email,
        member_user.email,
        "newbie@example.com",
    ]
    ada, max_, newbie = users
    assert ada == {
        "sub": str(admin_user.pk),
        "email": admin_user.email,
        "role": "admin",
        "accepted": True,
        "expired": False,
        "email_verified": True,
        "given_name": "Ada",
        "family_name": "Lovelace",
    }
    assert max_["role"] == "member"
    assert newbie["accepted"] is False
    assert newbie["sub"] is None
    assert newbie["expired"] is False
    assert outsider.email not in {user["email"] for user in users}


def test_expired_invitation_is_flagged_and_revoked_ones_are_hidden(admin_api):
    _invite(admin_api, "late@example.com")
    _invite(admin_api, "gone@example.com")
    Invitation.objects.filter(email="late@example.com").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    Invitation.objects.filter(email="gone@example.com").update(revoked_at=timezone.now())
    users = {user["email"]: user for user in admin_api.get("/v0/users").json()}
    assert users["late@example.com"]["expired"] is True
    assert "gone@example.com" not in users


def test_invite_creates_a_pending_invitation_and_mails_it(
    admin_api, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(admin_api, "New.Person@Example.com", "admin")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "New.Person@example.com"  # domain normalised
    assert body["role"] == "admin"
    assert body["workspace"] == "acme"
    assert body["invitedBy"] == str(admin_user.pk)
    assert body["createdBy"] == admin_user.email
    assert body["expiresAt"] > body["createdAt"]
    invitation = Invitation.objects.get()
    assert invitation.role == Role.ADMIN and invitation.is_pending
    assert [message.to for message in mail.outbox] == [["New.Person@example.com"]]
    assert AuditLogEntry.objects.filter(action="member.invite").exists()


def test_invite_role_defaults_to_member(admin_api):
    assert _invite(admin_api, "someone@example.com").json()["role"] == "member"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "x@example.com", "role": "owner"}, "role"),
        ({"email": "x@example.com", "role": "viewer"}, "role"),
        ({"role": "member"}, "email"),
        ({"email": "x@example.com", "team": "a"}, "team"),
    ],
)
def test_invite_refuses_bad_input(admin_api, body, field):
    response_body = assert_error(admin_api.post("/v0/users", body, format="json"), 400, field)
    if field == "role":
        assert "admin, member" in response_body["fields"]["role"]
    assert not Invitation.objects.exists()
    assert len(mail.outbox) == 0


def test_invite_existing_member_is_a_conflict(admin_api, member_user):
    assert_error(_invite(admin_api, member_user.email), 409)
    assert not Invitation.objects.exists()


def test_invite_twice_is_a_conflict(admin_api):
    _invite(admin_api, "twice@example.com")
    assert_error(_invite(admin_api, "TWICE@example.com"), 409)
    assert Invitation.objects.count() == 1


def test_change_role_by_email_and_by_sub(admin_api, member_user, workspace):
    response = admin_api.put(f"/v0/users/{member_user.email}", {"role": "admin"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert response.json()["sub"] == str(member_user.pk)
    assert Membership.objects.get(workspace=workspace, user=member_user).role == Role.ADMIN
    response = admin_api.put(f"/v0/users/{member_user.pk}", {"role": "member"}, format="json")
    assert response.json()["role"] == "member"
    changes = list(
        AuditLogEntry.objects.filter(action="member.role_change")
        .order_by("created_at", "id")
        .values_list("changes", flat=True)
    )
    assert changes == [{"role": ["member", "admin"]}, {"role": ["admin", "member"]}]


def test_change_role_tolerates_a_body_copied_from_the_list(admin_api, member_user, workspace):
    listed = next(u for u in admin_api.get("/v0/users").json() if u["email"] == member_user.email)
    listed["role"] = "admin"
    response = admin_api.put(f"/v0/users/{member_user.email}", listed, format="json")
    assert response.status_code == 200
    assert Membership.objects.get(workspace=workspace, user=member_user).role == Role.ADMIN


def test_url_encoded_email(admin_api, member_user):
    encoded = member_user.email.replace("@", "%40")
    response = admin_api.put(f"/v0/users/{encoded}", {"role": "admin"}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [({"role": "superuser"}, "role"), ({}, "role"), ({"role": "admin", "x": 1}, "x")],
)
def test_change_role_refuses_bad_input(admin_api, member_user, workspace, body, field):
    assert_error(admin_api.put(f"/v0/users/{member_user.email}", body, format="json"), 400, field)
    assert Membership.objects.get(workspace=workspace, user=member_user).role == Role.MEMBER


def test_last_admin_cannot_be_demoted(admin_api, admin_user, workspace):
    body = assert_error(
        admin_api.put(f"/v0/users/{admin_user.email}", {"role": "member"}, format="json"), 409
    )
    assert "last admin" in body["message"]
    assert Membership.objects.get(workspace=workspace, user=admin_user).role == Role.ADMIN


def test_unknown_member_is_not_found(admin_api):
    assert_error(
        admin_api.put("/v0/users/ghost@example.com", {"role": "admin"}, format="json"), 404
    )
    assert_error(admin_api.put("/v0/users/999999", {"role": "admin"}, format="json"), 404)
    assert_error(admin_api.delete("/v0/users/ghost@example.com"), 404)


def test_admin_removes_a_member(admin_api, member_user, workspace):
    response = admin_api.delete(f"/v0/users/{member_user.email}")
    assert response.status_code == 200
    assert response.json()["email"] == member_user.email
    assert not Membership.objects.filter(workspace=workspace, user=member_user).exists()
    entry = AuditLogEntry.objects.get(action="member.remove")
    assert entry.target_label == member_user.email


@pytest.mark.parametrize("by", ["email", "sub"])
def test_member_removes_themselves_which_is_leaving(member_api, member_user, workspace, by):
    target = member_user.email if by == "email" else member_user.pk
    assert member_api.delete(f"/v0/users/{target}").status_code == 200
    assert not Membership.objects.filter(workspace=workspace, user=member_user).exists()
    assert AuditLogEntry.objects.filter(action="member.leave").exists()


def test_member_cannot_remove_someone_else(member_api, admin_user, workspace):
    assert_error(member_api.delete(f"/v0/users/{admin_user.email}"), 403)
    assert Membership.objects.filter(workspace=workspace, user=admin_user).exists()


def test_last_admin_cannot_remove_themselves(admin_api, admin_user, workspace):
    assert_error(admin_api.delete(f"/v0/users/{admin_user.pk}"), 409)
    assert Membership.objects.filter(workspace=workspace, user=admin_user).exists()


def test_removing_an_invited_email_revokes_the_invitation(admin_api):
    _invite(admin_api, "maybe@example.com")
    response = admin_api.delete("/v0/users/maybe@example.com")
    assert response.status_code == 200
    assert response.json()["accepted"] is False
    assert Invitation.objects.get().revoked_at is not None
    assert "maybe@example.com" not in {u["email"] for u in admin_api.get("/v0/users").json()}
    assert_error(admin_api.delete("/v0/users/maybe@example.com"), 404)
