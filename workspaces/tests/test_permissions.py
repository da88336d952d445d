"""The permission layer: roles as data."""

from workspaces.permissions import Action, Role, role_allows


def test_roles_are_data():
    assert role_allows(Role.ADMIN, Action.MANAGE_INTEGRATIONS)
    assert not role_allows(Role.MEMBER, Action.MANAGE_INTEGRATIONS)
    assert role_allows(Role.MEMBER, Action.MANAGE_MODEL_APIS)
    assert not role_allows(None, Action.VIEW_WORKSPACE)
