"""The permission layer: roles as data, one map from role to allowed actions.

HTML views, the REST API and the gateway all ask `role_allows(role, action)`; nothing
else decides who may do what (DESIGN.md §3). `method_actions` turns a resource's read
and write actions into the HTTP method → action map of its `/v0` views.
"""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    """Ordered from most to least privileged."""

    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Action(StrEnum):
    VIEW_WORKSPACE = "workspace.view"
    EDIT_WORKSPACE = "workspace.edit"
    DELETE_WORKSPACE = "workspace.delete"
    VIEW_MEMBERS = "members.view"
    MANAGE_MEMBERS = "members.manage"
    VIEW_SERVICE_ACCOUNTS = "service_accounts.view"
    MANAGE_SERVICE_ACCOUNTS = "service_accounts.manage"
    VIEW_INTEGRATIONS = "integrations.view"
    MANAGE_INTEGRATIONS = "integrations.manage"
    VIEW_MODEL_APIS = "model_apis.view"
    MANAGE_MODEL_APIS = "model_apis.manage"
    CALL_MODEL_APIS = "model_apis.call"
    VIEW_POLICIES = "policies.view"
    MANAGE_POLICIES = "policies.manage"
    VIEW_AUDIT_LOG = "audit_log.view"
    VIEW_USAGE = "usage.view"
    MANAGE_PRICES = "prices.manage"


_MEMBER_ACTIONS = frozenset(
    {
        Action.VIEW_WORKSPACE,
        Action.VIEW_MEMBERS,
        Action.VIEW_SERVICE_ACCOUNTS,
        Action.VIEW_INTEGRATIONS,
        Action.VIEW_MODEL_APIS,
        Action.MANAGE_MODEL_APIS,
        Action.CALL_MODEL_APIS,
        Action.VIEW_POLICIES,
        Action.VIEW_USAGE,
    }
)

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.MEMBER: _MEMBER_ACTIONS,
}


def role_allows(role: str | None, action: Action) -> bool:
    """True when `role` (None = no access to the workspace) may perform `action`."""
    if role is None:
        return False
    return action in ROLE_ACTIONS.get(role, frozenset())


READ_METHODS = ("GET", "HEAD", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def method_actions(*, read: Action, write: Action) -> dict[str, Action]:
    """HTTP method → the action it needs, for a resource that anyone allowed to `read`
    may look at and only those allowed to `write` may change. A view answers 405 for a
    method it does not implement before this map is consulted."""
    return {
        **dict.fromkeys(READ_METHODS, read),
        **dict.fromkeys(WRITE_METHODS, write),
    }
