"""A service account's page: its OAuth client id and token scope, and a new client
secret for admins, shown once in the POST's answer (never cached), the old one dead at
once; members cannot rotate, another workspace's account is a 404."""

import base64

import pytest

from workspaces.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def rotate_path(account):
    return f"/acme/settings/service-accounts/{account.client_id}/client-secret/"


def token_status(client, account, secret) -> int:
    basic = base64.b64encode(f"{account.client_id}:{secret}".encode()).decode()
    return client.post(
        "/v0/oauth/token",
        {"grant_type": "client_credentials"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    ).status_code


def test_the_page_shows_the_client_id_and_the_token_scope(admin_client, service_account):
    html = admin_client.get(
        f"/acme/settings/service-accounts/{service_account.client_id}/"
    ).content.decode()
    assert service_account.client_id in html
    assert "OAuth client credentials" in html and "Full access" in html
    assert service_account.issued_client_secret not in html


def test_an_admin_gets_a_new_secret_once_and_the_old_one_dies(
    admin_client, client, service_account
):
    old_secret = service_account.issued_client_secret
    response = admin_client.post(rotate_path(service_account))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new_secret = response.context["new_client_secret"]
    assert new_secret in response.content.decode()
    assert token_status(client, service_account, old_secret) == 401
    assert token_status(client, service_account, new_secret) == 200
    page = admin_client.get(f"/acme/settings/service-accounts/{service_account.client_id}/")
    assert new_secret not in page.content.decode()
    assert AuditLogEntry.objects.filter(action="service_account.rotate_secret").count() == 1


def test_members_cannot_rotate(member_client, client, service_account):
    assert member_client.post(rotate_path(service_account)).status_code == 403
    assert token_status(client, service_account, service_account.issued_client_secret) == 200
    page = member_client.get(f"/acme/settings/service-accounts/{service_account.client_id}/")
    assert "New client secret" not in page.content.decode()


def test_another_workspaces_account_is_a_404(admin_client, other_service_account):
    assert admin_client.post(rotate_path(other_service_account)).status_code == 404
    assert admin_client.get(rotate_path(other_service_account)).status_code in (404, 405)


def test_the_token_scope_is_chosen_when_the_account_is_made(admin_client, workspace):
    admin_client.post(
        "/acme/settings/service-accounts/",
        {"name": "bot", "role": "member", "scope_model_apis": "my-gpt"},
    )
    account = workspace.service_accounts.get(name="bot")
    assert account.scope_model_apis == ["my-gpt"]
    page = admin_client.get(f"/acme/settings/service-accounts/{account.client_id}/")
    assert "Model APIs my-gpt" in page.content.decode()
