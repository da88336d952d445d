"""What each policy operation requires, as data (DESIGN.md §3): members read policies,
admins create, edit, delete and attach them. The decision itself stays in
`workspaces.permissions.role_allows`."""

from workspaces.permissions import Action

# HTTP method → action, for the REST API (`WorkspaceAPIView.required_actions`).
POLICY_ACTIONS: dict[str, Action] = {
    "GET": Action.VIEW_POLICIES,
    "HEAD": Action.VIEW_POLICIES,
    "OPTIONS": Action.VIEW_POLICIES,
    "POST": Action.MANAGE_POLICIES,
    "PUT": Action.MANAGE_POLICIES,
    "DELETE": Action.MANAGE_POLICIES,
}
