"""What each model-API operation requires, as data (DESIGN.md §3). The decision itself
stays in `workspaces.permissions.role_allows`; this module only names the actions."""

from workspaces.permissions import Action, method_actions

# HTTP method → action, for the REST API (`WorkspaceAPIView.required_actions`).
MODEL_API_ACTIONS: dict[str, Action] = method_actions(
    read=Action.VIEW_MODEL_APIS, write=Action.MANAGE_MODEL_APIS
)
