"""What each policy operation requires, as data (DESIGN.md §3): members read policies,
admins create, edit, delete and attach them. The decision itself stays in
`workspaces.permissions.role_allows`."""

from workspaces.permissions import Action, method_actions

# HTTP method → action, for the REST API (`WorkspaceAPIView.required_actions`).
POLICY_ACTIONS: dict[str, Action] = method_actions(
    read=Action.VIEW_POLICIES, write=Action.MANAGE_POLICIES
)
