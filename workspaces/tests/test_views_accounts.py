"""django-allauth's pages in the console's layout: sign up, log in, log out, password
reset and change, and email verification when the deployment makes it mandatory."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from blaxel_console.testing.people import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/accounts/login/", "Sign In"),
        ("/accounts/signup/", "Sign Up"),
        ("/accounts/password/reset/", "Password Reset"),
    ],
)
def test_signed_out_pages_use_the_console_layout(client, path, heading):
    html = client.get(path).content.decode()
    assert re.search(rf"<h1>\s*{heading}\s*</h1>", html)
    assert 'class="topbar"' in html and "/static/css/console.css" in html
    assert 'class="auth-card"' in html
    # Every field has a visible label bound to it.
    for field_id in re.findall(r'<input[^>]+id="(id_\w+)"', html):
        assert f'<label for="{field_id}">' in html, field_id


def test_signed_in_account_pages_use_the_console_layout(admin_client):
    for path, heading in [
        ("/accounts/password/change/", "Change Password"),
        ("/accounts/logout/", "Sign Out"),
        ("/accounts/email/", "Email Addresses"),
    ]:
        html = admin_client.get(path).content.decode()
        assert re.search(rf"<h1>\s*{heading}\s*</h1>", html), path
        assert "ada@example.com" in html  # the header's user menu


def test_sign_up_logs_in_and_asks_for_a_workspace(client, mailoutbox):
    response = client.post(
        "/accounts/signup/",
        {"email": "fresh@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/workspaces/new/"
    assert "Create your workspace" in response.content.decode()
    assert get_user_model().objects.filter(email="fresh@example.com").exists()
    # Verification is optional by default: a confirmation mail is still sent.
    assert any("fresh@example.com" in message.to for message in mailoutbox)


def test_sign_up_errors_are_shown_next_to_the_fields(client, admin_user):
    response = client.post(
        "/accounts/signup/",
        {"email": "ada@example.com", "password1": "short", "password2": "different"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_email_error"' in html
    assert 'aria-invalid="true"' in html
    assert get_user_model().objects.filter(email="ada@example.com").count() == 1


def test_log_in_and_out(client, workspace, admin_user):
    response = client.post(
        "/accounts/login/", {"login": "ada@example.com", "password": PASSWORD}, follow=True
    )
    assert ("/acme/", 302) in response.redirect_chain  # the workspace's home
    assert response.status_code == 200
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert client.get("/acme/settings/").status_code == 302


def test_password_reset_mail(client, admin_user, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "ada@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert re.search(r"/accounts/password/reset/key/\S+/", mailoutbox[0].body)


def test_mandatory_email_verification(client, settings, workspace, admin_principal, mailoutbox):
    """With ACCOUNT_EMAIL_VERIFICATION=mandatory nobody gets in before confirming, and
    the invitations for the confirmed address then show up on the home page."""
    from workspaces import services

    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    services.invitation_create(
        workspace=workspace, email="careful@example.com", role="member", actor=admin_principal
    )
    response = client.post(
        "/accounts/signup/",
        {"email": "careful@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert "Verify Your Email Address" in response.content.decode()
    assert client.get("/workspaces/new/").status_code == 302  # not signed in
    confirm = next(m for m in mailoutbox if "careful@example.com" in m.to)
    path = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+/)", confirm.body).group(1)
    page = client.get(path)
    assert "Confirm Email Address" in page.content.decode()
    client.post(path)
    assert EmailAddress.objects.get(email="careful@example.com").verified
    response = client.post(
        "/accounts/login/", {"login": "careful@example.com", "password": PASSWORD}, follow=True
    )
    assert "Accept and join Acme Corp" in response.content.decode()
