"""The integrations' actions in the one permission layer (`workspaces.permissions`).

Members read connections (masked); only admins create, edit, rotate or delete them
(DESIGN.md §3). Views and API views name these instead of spelling out actions.
"""

from workspaces.permissions import Action, role_allows

VIEW = Action.VIEW_INTEGRATIONS
MANAGE = Action.MANAGE_INTEGRATIONS

# REST API: HTTP method → the action it needs.
API_ACTIONS = {
    "GET": VIEW,
    "HEAD": VIEW,
    "OPTIONS": VIEW,
    "POST": MANAGE,
    "PUT": MANAGE,
    "PATCH": MANAGE,
    "DELETE": MANAGE,
}


def can_manage(role: str | None) -> bool:
    return role_allows(role, MANAGE)
