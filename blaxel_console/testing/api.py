"""Helpers of the `/v0` API tests: a client presenting any key, and the API's error shape.
Plain functions (no fixtures), imported by name."""

from rest_framework.test import APIClient


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
    """How many audit-log rows exist (admin actions leave one each)."""
    from workspaces.models import AuditLogEntry

    return AuditLogEntry.objects.count()
