"""Helpers shared by the `/v0` API tests (plain functions, not fixtures, so they do not
collide with the root conftest's)."""

import pytest
from rest_framework.test import APIClient

from workspaces import services
from workspaces.models import AuditLogEntry
from workspaces.permissions import Role
from workspaces.principals import Principal


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Import into a test module to hash the fixtures' passwords cheaply (the production
    hasher takes about a second per user on a small machine). In-process checks only: a
    live server subprocess keeps the real hashers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def key_client(raw_key: str | None, workspace_name: str | None = "acme", **headers) -> APIClient:
    """A DRF client presenting `raw_key` as `Authorization: Bearer` (none when None)."""
    client = APIClient()
    credentials = {
        f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()
    }
    if raw_key is not None:
        credentials["HTTP_AUTHORIZATION"] = f"Bearer {raw_key}"
    if workspace_name:
        credentials["HTTP_X_BLAXEL_WORKSPACE"] = workspace_name
    client.credentials(**credentials)
    return client


def make_service_account(workspace, *, name: str, role: str = Role.MEMBER, by_user):
    return services.service_account_create(
        workspace=workspace, name=name, role=role, actor=Principal.for_user(by_user)
    )


def make_service_account_key(service_account, *, by_user, expires_in: str = "never"):
    """Returns (ApiKey row, raw key)."""
    return services.service_account_api_key_create(
        service_account=service_account,
        name="test",
        expires_in=expires_in,
        actor=Principal.for_user(by_user),
    )


def assert_error(response, status: int, *fields: str) -> dict:
    """The response is the API's JSON error with `status` (and these field errors)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "code", "message"}, body
    assert "detail" not in body
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    for field in fields:
        assert field in body.get("fields", {}), body
    return body


def audit_count() -> int:
    return AuditLogEntry.objects.count()
