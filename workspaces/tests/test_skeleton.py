"""Smoke tests of the foundation's core pieces (deeper suites live beside them)."""

import pytest

from workspaces.keys import hash_key
from workspaces.models import ApiKey
from workspaces.permissions import Action, Role, role_allows


def test_roles_are_data():
    assert role_allows(Role.ADMIN, Action.MANAGE_INTEGRATIONS)
    assert not role_allows(Role.MEMBER, Action.MANAGE_INTEGRATIONS)
    assert role_allows(Role.MEMBER, Action.MANAGE_MODEL_APIS)
    assert not role_allows(None, Action.VIEW_WORKSPACE)


@pytest.mark.django_db
def test_personal_key_is_stored_only_as_hash(admin_user, personal_key):
    raw = personal_key(admin_user)
    row = ApiKey.objects.get(user=admin_user)
    assert row.key_hash == hash_key(raw)
    assert raw not in {row.key_hash, row.prefix, row.name}
    assert raw.startswith(row.prefix)


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
