"""The profile's security screen: personal API keys shown once and reaching the
user's workspaces, bad input, revocation, and nobody else's keys seen or revoked."""

import pytest

from blaxel_console.testing.people import assert_login_redirect
from workspaces import access
from workspaces.keys import hash_key
from workspaces.models import ApiKey

pytestmark = pytest.mark.django_db


def test_personal_key_is_shown_once_and_reaches_my_workspaces(admin_client, admin_user):
    posted = admin_client.post("/profile/security/", {"name": "laptop", "expires_in": "30d"})
    # Post/redirect/get: the key is shown on the page the browser is sent to.
    assert posted.status_code == 302 and posted["Location"] == "/profile/security/"
    response = admin_client.get("/profile/security/")
    raw_key = response.context["new_key"]
    assert raw_key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert raw_key not in str(dict(admin_client.session))  # held encrypted only
    row = ApiKey.objects.get(user=admin_user)
    assert row.key_hash != raw_key
    assert access.key_grant(key_hash=hash_key(raw_key)).principal.user_id == admin_user.pk
    later = admin_client.get("/profile/security/").content.decode()
    assert raw_key not in later and row.prefix in later
    assert "Change your password" in later


def test_refreshing_after_creating_a_key_creates_nothing(admin_client, admin_user):
    admin_client.post("/profile/security/", {"name": "laptop", "expires_in": "30d"})
    first = admin_client.get("/profile/security/")
    refreshed = admin_client.get("/profile/security/")  # the browser's refresh is a GET
    assert "new_key" in first.context and "new_key" not in refreshed.context
    assert ApiKey.objects.filter(user=admin_user).count() == 1


def test_a_key_held_for_another_person_is_not_shown(admin_client, member_client, member_user):
    from workspaces.views.api_keys import NEW_KEY_SESSION

    admin_client.post("/profile/security/", {"name": "laptop", "expires_in": "30d"})
    held = admin_client.session[NEW_KEY_SESSION]
    session = member_client.session
    session[NEW_KEY_SESSION] = held  # even copied into someone else's session
    session.save()
    assert "new_key" not in member_client.get("/profile/security/").context


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
