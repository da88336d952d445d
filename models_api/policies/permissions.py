"""What each policy operation requires, as data (DESIGN.md §3): members read policies,
admins create, edit, delete and attach them. The decision itself stays in
`workspaces.permissions.role_allows`."""

from workspaces.permissions import Action, method_actions

from .selectors import model_api_has_attached_policies

# HTTP method → action, for the REST API (`WorkspaceAPIView.required_actions`).
POLICY_ACTIONS: dict[str, Action] = method_actions(
    read=Action.VIEW_POLICIES, write=Action.MANAGE_POLICIES
)


def model_api_delete_action(model_api) -> Action:
    """What deleting `model_api` needs: deleting it lifts the policies attached to it, so
    a member, who may delete model APIs but not detach policies, may not delete one that
    has policies attached."""
    if model_api_has_attached_policies(model_api=model_api):
        return Action.MANAGE_POLICIES
    return Action.MANAGE_MODEL_APIS


DELETE_WITH_POLICIES_MESSAGE = (
    "Only an admin can delete a model API with policies attached: deleting it would lift "
    "their limits. Ask an admin, or have them detach the policies first."
)
