"""The integrations' actions in the one permission layer (`workspaces.permissions`).

Members read connections (masked); only admins create, edit, rotate or delete them
(DESIGN.md §3). Views and API views name these instead of spelling out actions.
"""

from workspaces.permissions import Action, method_actions

VIEW = Action.VIEW_INTEGRATIONS
MANAGE = Action.MANAGE_INTEGRATIONS

# REST API: HTTP method → the action it needs.
API_ACTIONS = method_actions(read=VIEW, write=MANAGE)
