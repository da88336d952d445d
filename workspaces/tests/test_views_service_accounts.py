"""The service-account screens: creating accounts, their keys shown once and then
only by prefix, expiry, revocation and deletion (a revoked, expired or deleted key no
longer grants access), read-only for members."""

import pytest

from workspaces import access, services
from workspaces.keys import hash_key
from workspaces.models import ApiKey, AuditLogEntry, ServiceAccount
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


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


def test_refreshing_after_creating_a_service_account_key_creates_nothing(
    admin_client, service_account
):
    path = f"/acme/settings/service-accounts/{service_account.client_id}/"
    admin_client.post(path, {"name": "deploy", "expires_in": "1w"})
    assert "new_key" in admin_client.get(path).context
    assert "new_key" not in admin_client.get(path).context
    assert ApiKey.objects.filter(service_account=service_account).count() == 1


def test_service_account_key_is_shown_once(admin_client, service_account):
    path = f"/acme/settings/service-accounts/{service_account.client_id}/"
    posted = admin_client.post(path, {"name": "deploy", "expires_in": "1w"})
    assert posted.status_code == 302 and posted["Location"] == path  # post/redirect/get
    response = admin_client.get(path)
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
