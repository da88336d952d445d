"""The permission layer: roles as data, and the HTTP method → action maps of the
`/v0` views built from a resource's read and write actions."""

import pytest

from workspaces.permissions import Action, Role, method_actions, role_allows


def test_roles_are_data():
    assert role_allows(Role.ADMIN, Action.MANAGE_INTEGRATIONS)
    assert not role_allows(Role.MEMBER, Action.MANAGE_INTEGRATIONS)
    assert role_allows(Role.MEMBER, Action.MANAGE_MODEL_APIS)
    assert not role_allows(None, Action.VIEW_WORKSPACE)


def test_method_actions_reads_need_the_read_action_and_writes_the_write_action():
    actions = method_actions(read=Action.VIEW_INTEGRATIONS, write=Action.MANAGE_INTEGRATIONS)
    assert actions == {
        "GET": Action.VIEW_INTEGRATIONS,
        "HEAD": Action.VIEW_INTEGRATIONS,
        "OPTIONS": Action.VIEW_INTEGRATIONS,
        "POST": Action.MANAGE_INTEGRATIONS,
        "PUT": Action.MANAGE_INTEGRATIONS,
        "PATCH": Action.MANAGE_INTEGRATIONS,
        "DELETE": Action.MANAGE_INTEGRATIONS,
    }


@pytest.mark.parametrize(
    ("read", "write"),
    [
        (Action.VIEW_INTEGRATIONS, Action.MANAGE_INTEGRATIONS),
        (Action.VIEW_SERVICE_ACCOUNTS, Action.MANAGE_SERVICE_ACCOUNTS),
        (Action.VIEW_MEMBERS, Action.MANAGE_MEMBERS),
    ],
)
def test_method_actions_let_a_member_read_but_not_write_an_admin_resource(read, write):
    actions = method_actions(read=read, write=write)
    for method in ("GET", "HEAD", "OPTIONS"):
        assert role_allows(Role.MEMBER, actions[method])
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert not role_allows(Role.MEMBER, actions[method])
        assert role_allows(Role.ADMIN, actions[method])
