"""The invited person's side: the emailed link, signing in or up, accepting, and every way
an invitation stops working (expired, revoked, resent, someone else's)."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from blaxel_console.testing.people import PASSWORD, token_from_mail
from workspaces import services
from workspaces.models import AuditLogEntry, Invitation, Membership
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def invitee(make_user):
    return make_user("new@example.com")


def test_signed_out_visitor_is_asked_to_log_in_or_sign_up_and_come_back(client, invitation):
    _, token = invitation
    path = f"/invitations/{token}/"
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Join Acme Corp" in html and "new@example.com" in html
    login_url = response.context["login_url"]
    signup_url = response.context["signup_url"]
    assert parse_qs(urlsplit(login_url).query) == {"next": [path]}
    assert parse_qs(urlsplit(signup_url).query) == {"next": [path], "email": ["new@example.com"]}
    # The sign-up page is pre-filled with the invited address.
    signup_page = client.get(signup_url).content.decode()
    assert 'value="new@example.com"' in signup_page
    # Nothing was accepted by looking.
    assert not Membership.objects.filter(user__email="new@example.com").exists()


def test_sign_up_from_the_invitation_then_accept(client, invitation):
    invitation_row, token = invitation
    path = f"/invitations/{token}/"
    assert client.get(path).context["state"] == "signed_out"  # the emailed link, opened
    response = client.post(
        f"/accounts/signup/?next={path}",
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD, "next": path},
    )
    assert response.status_code == 302
    assert response["Location"] == path
    ready = client.get(path)
    assert ready.context["state"] == "ready"
    assert "Accept and join Acme Corp" in ready.content.decode()
    response = client.post(path, follow=True)
    assert response.redirect_chain[0][0] == "/acme/"
    membership = Membership.objects.get(
        workspace=invitation_row.workspace, user__email="new@example.com"
    )
    assert membership.role == Role.MEMBER
    assert "You joined the workspace “Acme Corp” as Member." in response.content.decode()
    invitation_row.refresh_from_db()
    assert invitation_row.accepted_at is not None
    assert AuditLogEntry.objects.filter(
        action="member.join", target_label="new@example.com"
    ).exists()


def test_log_in_from_the_invitation_comes_back(client, invitation, invitee):
    _, token = invitation
    path = f"/invitations/{token}/"
    response = client.post(
        "/accounts/login/", {"login": "new@example.com", "password": PASSWORD, "next": path}
    )
    assert response["Location"] == path


def test_accept_as_admin_role(
    invitee, workspace, admin_principal, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            workspace=workspace, email="new@example.com", role="admin", actor=admin_principal
        )
    token = token_from_mail(mailoutbox[-1])
    logged_in(invitee).post(f"/invitations/{token}/")
    assert Membership.objects.get(user=invitee, workspace=workspace).role == Role.ADMIN


def test_get_never_accepts(invitation, invitee):
    _, token = invitation
    logged_in(invitee).get(f"/invitations/{token}/")
    assert not Membership.objects.filter(user=invitee).exists()


def test_accepted_link_cannot_be_used_again(invitation, invitee, make_user):
    _, token = invitation
    client = logged_in(invitee)
    client.post(f"/invitations/{token}/")
    # The member following the link again just lands in the workspace.
    assert client.get(f"/invitations/{token}/")["Location"] == "/acme/"
    # Anyone else sees that it was used.
    other = logged_in(make_user("other@example.com"))
    response = other.get(f"/invitations/{token}/")
    assert "already accepted" in response.content.decode()
    other.post(f"/invitations/{token}/")
    assert Membership.objects.filter(workspace__name="acme").count() == 3


def test_wrong_email_is_a_clear_refusal(invitation, member_user, make_user):
    _, token = invitation
    stranger = make_user("stranger@example.com")
    client = logged_in(stranger)
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "This invitation is for <strong>new@example.com</strong>" in html
    assert "stranger@example.com" in html
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 403
    assert not Membership.objects.filter(user=stranger).exists()
    invitation[0].refresh_from_db()
    assert invitation[0].accepted_at is None


def test_email_match_ignores_case(invitation, make_user):
    _, token = invitation
    user = make_user("NEW@Example.COM")
    logged_in(user).post(f"/invitations/{token}/")
    assert Membership.objects.filter(user=user, workspace__name="acme").exists()


def test_expired_invitation(invitation, invitee):
    invitation_row, token = invitation
    Invitation.objects.filter(pk=invitation_row.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    client = logged_in(invitee)
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 410
    assert "Invitation expired" in response.content.decode()
    assert client.post(f"/invitations/{token}/").status_code == 410
    assert not Membership.objects.filter(user=invitee).exists()


def test_expired_invitation_shows_as_expired_to_admins_and_can_be_resent(
    admin_client, invitation, invitee, mailoutbox, django_capture_on_commit_callbacks
):
    invitation_row, old_token = invitation
    Invitation.objects.filter(pk=invitation_row.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    html = admin_client.get("/acme/settings/team/").content.decode()
    assert '<span class="badge expired">Expired</span>' in html
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/acme/settings/team/invitations/{invitation_row.pk}/resend/")
    new_token = token_from_mail(mailoutbox[-1])
    client = logged_in(invitee)
    assert client.get(f"/invitations/{old_token}/").status_code == 404
    client.post(f"/invitations/{new_token}/")
    assert Membership.objects.filter(user=invitee).exists()


def test_revoked_invitation(admin_client, invitation, invitee):
    invitation_row, token = invitation
    response = admin_client.post(
        f"/acme/settings/team/invitations/{invitation_row.pk}/revoke/", follow=True
    )
    assert "Invitation for new@example.com revoked." in response.content.decode()
    assert "new@example.com" not in response.content.decode().split("Pending invitations")[1]
    client = logged_in(invitee)
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 410
    assert "Invitation revoked" in response.content.decode()
    client.post(f"/invitations/{token}/")
    assert not Membership.objects.filter(user=invitee).exists()
    assert AuditLogEntry.objects.filter(action="member.invite_revoke").exists()


def test_resend_makes_the_old_link_stop_working(
    admin_client, invitation, invitee, mailoutbox, django_capture_on_commit_callbacks
):
    invitation_row, old_token = invitation
    old_expiry = invitation_row.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/acme/settings/team/invitations/{invitation_row.pk}/resend/", follow=True
        )
    assert "the old link no longer works" in response.content.decode()
    assert len(mailoutbox) == 2
    new_token = token_from_mail(mailoutbox[-1])
    assert new_token != old_token
    invitation_row.refresh_from_db()
    assert invitation_row.expires_at >= old_expiry
    client = logged_in(invitee)
    old = client.get(f"/invitations/{old_token}/")
    assert old.status_code == 404
    assert "Invitation not found" in old.content.decode()
    client.post(f"/invitations/{old_token}/")
    assert not Membership.objects.filter(user=invitee).exists()
    client.post(f"/invitations/{new_token}/")
    assert Membership.objects.filter(user=invitee).exists()


def test_unknown_token(client):
    response = client.get("/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert "Invitation not found" in response.content.decode()


def test_anonymous_post_goes_to_login(client, invitation):
    _, token = invitation
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not Membership.objects.filter(user__email="new@example.com").exists()


def test_resend_or_revoke_an_accepted_invitation_is_refused(admin_client, invitation, invitee):
    invitation_row, token = invitation
    logged_in(invitee).post(f"/invitations/{token}/")
    response = admin_client.post(
        f"/acme/settings/team/invitations/{invitation_row.pk}/resend/", follow=True
    )
    assert "Only a pending or expired invitation can be resent." in response.content.decode()
    response = admin_client.post(
        f"/acme/settings/team/invitations/{invitation_row.pk}/revoke/", follow=True
    )
    assert "already accepted" in response.content.decode()
    invitation_row.refresh_from_db()
    assert invitation_row.revoked_at is None


# --- accepting from the "Create your workspace" page -------------------------------------------


def test_create_page_lists_my_pending_invitations_and_accepts_them(invitation, invitee):
    invitation_row, _ = invitation
    client = logged_in(invitee)
    page = client.get("/", follow=True)
    html = page.content.decode()
    assert "Create your workspace" in html
    assert "Accept and join Acme Corp" in html
    response = client.post(f"/invitations/{invitation_row.pk}/accept/")
    assert response["Location"] == "/acme/"
    assert Membership.objects.get(user=invitee, workspace__name="acme").role == Role.MEMBER


def test_create_page_hides_invitations_for_an_unverified_address(invitation, invitee):
    """Signing up with someone else's address must not be a way into their workspaces."""
    invitation_row, _ = invitation
    EmailAddress.objects.filter(user=invitee).update(verified=False)
    client = logged_in(invitee)
    assert "Accept and join" not in client.get("/workspaces/new/").content.decode()
    response = client.post(f"/invitations/{invitation_row.pk}/accept/", follow=True)
    assert "This invitation is no longer pending." in response.content.decode()
    assert not Membership.objects.filter(user=invitee).exists()


def test_cannot_accept_someone_elses_invitation_by_id(invitation, make_user):
    invitation_row, _ = invitation
    stranger = make_user("stranger@example.com")
    logged_in(stranger).post(f"/invitations/{invitation_row.pk}/accept/")
    assert not Membership.objects.filter(user=stranger).exists()


def test_accept_by_id_needs_a_login(client, invitation):
    response = client.post(f"/invitations/{invitation[0].pk}/accept/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_accept_by_id_of_a_revoked_invitation(invitation, invitee, admin_principal):
    invitation_row, _ = invitation
    services.invitation_revoke(invitation=invitation_row, actor=admin_principal)
    logged_in(invitee).post(f"/invitations/{invitation_row.pk}/accept/")
    assert not Membership.objects.filter(user=invitee).exists()


def test_an_unverified_account_not_made_from_the_link_must_verify_first(
    client, invitation, settings
):
    """Someone who signed up elsewhere with the invited address (unverified) and then
    got hold of the token cannot join; once the address is verified they can."""
    from django.contrib.auth import get_user_model

    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    invitation_row, token = invitation
    user = get_user_model().objects.create_user(
        username="squatter", email="new@example.com", password=PASSWORD
    )
    EmailAddress.objects.create(user=user, email="new@example.com", primary=True, verified=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    path = f"/invitations/{token}/"
    page = client.get(path)
    assert page.status_code == 403 and page.context["state"] == "unverified"
    assert "Verify" in page.content.decode()
    refused = client.post(path)
    assert refused.status_code == 403
    assert not Membership.objects.filter(workspace=invitation_row.workspace, user=user).exists()

    EmailAddress.objects.filter(user=user).update(verified=True)
    client.post(path)
    assert Membership.objects.filter(workspace=invitation_row.workspace, user=user).exists()


def test_an_account_made_from_the_link_counts_it_as_proof_of_its_address(client, invitation):

    _, token = invitation
    path = f"/invitations/{token}/"
    client.get(path)
    client.post(
        f"/accounts/signup/?next={path}",
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD, "next": path},
    )
    client.post(path)
    assert EmailAddress.objects.get(email="new@example.com").verified
