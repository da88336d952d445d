"""`POST /v0/oauth/token`: a service account's client credentials (HTTP Basic) give short-
lived access tokens, accepted on `/v0` like an API key, refreshable, and dead once the
secret rotates, the role changes or the account is deleted."""

import base64
import logging

import pytest
from oauth2_provider.models import AccessToken, Application, RefreshToken

from workspaces import services
from workspaces.models import AuditLogEntry
from workspaces.permissions import Role

pytestmark = pytest.mark.django_db


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_request(client, client_id, secret, body=None, *, as_json=True):
    body = body if body is not None else {"grant_type": "client_credentials"}
    headers = {"HTTP_AUTHORIZATION": basic(client_id, secret)}
    if as_json:
        return client.post("/v0/oauth/token", body, content_type="application/json", **headers)
    return client.post("/v0/oauth/token", body, **headers)  # a form


@pytest.fixture
def account(service_account):
    """`acme`'s "ci-bot" and the client secret shown at its creation."""
    return service_account, service_account.issued_client_secret


def bearer_get(client, token, path="/v0/service_accounts", header="HTTP_AUTHORIZATION"):
    return client.get(path, **{header: f"Bearer {token}"})


def test_creation_answers_the_secret_once_and_stores_only_its_hash(admin_api):
    answer = admin_api.post("/v0/service_accounts", {"name": "deployer"}, format="json")
    assert answer.status_code == 200
    secret = answer.json()["client_secret"]
    client_id = answer.json()["client_id"]
    assert len(secret) >= 32
    application = Application.objects.get(client_id=client_id)
    assert application.client_secret != secret and secret not in application.client_secret
    assert application.client_secret.startswith("pbkdf2_sha256$")
    listed = admin_api.get("/v0/service_accounts").json()
    fetched = admin_api.get(f"/v0/service_accounts/{client_id}").json()
    assert "client_secret" not in listed[0] and "client_secret" not in fetched
    assert secret not in str(AuditLogEntry.objects.values_list("changes", flat=True))


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
def test_client_credentials_give_a_bearer_token_that_reads_v0(client, account, as_json):
    service_account, secret = account
    answer = token_request(client, service_account.client_id, secret, as_json=as_json)
    assert answer.status_code == 200, answer.content
    token = answer.json()
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 3600
    assert token["access_token"] and token["refresh_token"]
    assert answer["Cache-Control"] == "no-store"
    # Stored as checksums only (RFC 9700 storage), never the tokens themselves.
    assert not AccessToken.objects.filter(token=token["access_token"]).exists()
    assert not RefreshToken.objects.filter(token=token["refresh_token"]).exists()
    for header in ("HTTP_AUTHORIZATION", "HTTP_X_BLAXEL_AUTHORIZATION"):
        listed = bearer_get(client, token["access_token"], header=header)
        assert listed.status_code == 200, listed.content
        assert [item["name"] for item in listed.json()] == ["ci-bot"]


def test_refresh_grant_gives_a_new_pair_and_the_old_refresh_token_dies(client, account):
    service_account, secret = account
    first = token_request(client, service_account.client_id, secret).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = token_request(client, service_account.client_id, secret, refresh)
    assert second.status_code == 200, second.content
    assert second.json()["access_token"] != first["access_token"]
    assert bearer_get(client, second.json()["access_token"]).status_code == 200
    again = token_request(client, service_account.client_id, secret, refresh)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # A replayed refresh token revokes its whole family: the newer one dies too.
    newer = {"grant_type": "refresh_token", "refresh_token": second.json()["refresh_token"]}
    assert token_request(client, service_account.client_id, secret, newer).status_code == 400


@pytest.mark.parametrize(
    "credentials",
    ["wrong-secret", "unknown-client", "no-header"],
)
def test_wrong_credentials_are_401_invalid_client(client, account, credentials):
    service_account, secret = account
    if credentials == "no-header":
        answer = client.post(
            "/v0/oauth/token", {"grant_type": "client_credentials"}, content_type="application/json"
        )
    elif credentials == "wrong-secret":
        answer = token_request(client, service_account.client_id, secret + "x")
    else:
        answer = token_request(client, "0" * 32, secret)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "body, error",
    [
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
    ],
)
def test_other_grants_and_bad_refresh_tokens_are_oauth_errors(client, account, body, error):
    service_account, secret = account
    answer = token_request(client, service_account.client_id, secret, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == error


def test_a_malformed_body_is_an_oauth_error_not_a_500(client, account):
    service_account, secret = account
    answer = client.post(
        "/v0/oauth/token",
        b"{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(service_account.client_id, secret),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_rotation_kills_the_old_secret_and_its_tokens_at_once(
    client, admin_api, member_api, account
):
    service_account, secret = account
    token = token_request(client, service_account.client_id, secret).json()
    path = f"/v0/service_accounts/{service_account.client_id}/client_secret"
    assert member_api.post(path).status_code == 403  # admins only
    rotated = admin_api.post(path)
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert new_secret != secret
    assert bearer_get(client, token["access_token"]).status_code == 401
    assert token_request(client, service_account.client_id, secret).status_code == 401
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    assert token_request(client, service_account.client_id, new_secret, refresh).status_code == 400
    assert token_request(client, service_account.client_id, new_secret).status_code == 200
    entry = AuditLogEntry.objects.get(action="service_account.rotate_secret")
    assert entry.target_label == "ci-bot" and new_secret not in str(entry.changes)


def test_another_workspaces_account_cannot_be_rotated(admin_api, other_service_account):
    path = f"/v0/service_accounts/{other_service_account.client_id}/client_secret"
    assert admin_api.post(path).status_code == 404


def test_a_role_change_kills_the_tokens(client, account, admin_principal):
    service_account, secret = account
    token = token_request(client, service_account.client_id, secret).json()
    services.service_account_update(
        service_account=service_account, role=Role.ADMIN, actor=admin_principal
    )
    assert bearer_get(client, token["access_token"]).status_code == 401
    fresh = token_request(client, service_account.client_id, secret).json()
    assert bearer_get(client, fresh["access_token"]).status_code == 200


def test_deleting_the_account_kills_its_tokens_and_client(client, account, admin_principal):
    service_account, secret = account
    token = token_request(client, service_account.client_id, secret).json()
    services.service_account_delete(service_account=service_account, actor=admin_principal)
    assert bearer_get(client, token["access_token"]).status_code == 401
    assert token_request(client, service_account.client_id, secret).status_code == 401
    assert not Application.objects.exists() and not AccessToken.objects.exists()


def test_an_expired_token_is_refused(client, account):
    service_account, secret = account
    token = token_request(client, service_account.client_id, secret).json()
    AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    assert bearer_get(client, token["access_token"]).status_code == 401


def test_a_token_reaches_only_its_own_workspace(client, account, other_workspace):
    service_account, secret = account
    token = token_request(client, service_account.client_id, secret).json()["access_token"]
    answer = client.get(
        "/v0/service_accounts",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_BLAXEL_WORKSPACE="globex",
    )
    assert answer.status_code == 403


def test_a_member_role_token_cannot_write(client, account):
    service_account, secret = account
    token = token_request(client, service_account.client_id, secret).json()["access_token"]
    answer = client.post(
        "/v0/service_accounts",
        {"name": "sneaky"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 403


def test_no_secret_or_token_reaches_the_logs_even_at_debug_level(client, account, caplog):
    caplog.set_level(logging.DEBUG)
    service_account, secret = account
    token = token_request(client, service_account.client_id, secret).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    refreshed = token_request(client, service_account.client_id, secret, refresh).json()
    token_request(client, service_account.client_id, "wrong")
    assert bearer_get(client, refreshed["access_token"]).status_code == 200
    logged = caplog.text
    for value in (secret, token["access_token"], token["refresh_token"], refreshed["access_token"]):
        assert value not in logged


def test_deleting_the_workspace_deletes_its_oauth_clients(client, account, admin_principal):
    service_account, secret = account
    services.workspace_delete(workspace=service_account.workspace, actor=admin_principal)
    assert not Application.objects.exists()
    assert token_request(client, service_account.client_id, secret).status_code == 401


def test_a_client_without_a_service_account_gets_no_token(client, account):
    service_account, secret = account
    # A client row left over (e.g. made by hand in Django's admin) is not a service account.
    type(service_account).objects.filter(pk=service_account.pk).update(oauth_application=None)
    answer = token_request(client, service_account.client_id, secret)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
