"""What each model-API operation requires, as data (DESIGN.md §3). The decision itself
stays in `workspaces.permissions.role_allows`; this module only names the actions."""

from workspaces.permissions import Action, role_allows

# HTTP method → action, for the REST API (`WorkspaceAPIView.required_actions`).
MODEL_API_ACTIONS: dict[str, Action] = {
    "GET": Action.VIEW_MODEL_APIS,
    "HEAD": Action.VIEW_MODEL_APIS,
    "OPTIONS": Action.VIEW_MODEL_APIS,
    "POST": Action.MANAGE_MODEL_APIS,
    "PUT": Action.MANAGE_MODEL_APIS,
    "DELETE": Action.MANAGE_MODEL_APIS,
}


def can_manage_model_apis(role: str | None) -> bool:
    return role_allows(role, Action.MANAGE_MODEL_APIS)


def can_call_model_apis(role: str | None) -> bool:
    return role_allows(role, Action.CALL_MODEL_APIS)
