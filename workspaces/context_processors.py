"""Template context for every page: the header's workspace switcher and what the
current user may do in the current workspace (asked of the permission layer)."""

from .mixins import LAST_WORKSPACE_SESSION_KEY
from .permissions import Action, role_allows
from .selectors import workspaces_for_user


class WorkspacePermissions:
    """`{% if workspace_perms.manage_members %}` in templates: the lower-cased `Action`
    name, answered by `role_allows` for the role `WorkspaceMixin` resolved."""

    def __init__(self, role: str | None):
        self.role = role

    def __getitem__(self, name: str) -> bool:
        try:
            action = Action[name.upper()]
        except KeyError:
            raise KeyError(name) from None
        return role_allows(self.role, action)


def _nav_workspace(request, user_workspaces):
    """The workspace the header's navigation is about: the page's own (set by
    WorkspaceMixin, also on its 403 page), else the one last opened, on pages outside any
    workspace (Profile → Security, account pages, a 404) — only one the user belongs to."""
    workspace = getattr(request, "workspace", None)
    if workspace is not None:
        return workspace
    last = request.session.get(LAST_WORKSPACE_SESSION_KEY) if hasattr(request, "session") else None
    if not last:
        return None
    return next((candidate for candidate in user_workspaces if candidate.name == last), None)


def workspace_context(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.kwargs.get("workspace") if match else None
    user_workspaces = workspaces_for_user(request.user).only("name", "display_name")
    return {
        "user_workspaces": user_workspaces,
        "nav_workspace": _nav_workspace(request, user_workspaces),
        "current_workspace_name": current,
        # Templates render after the view ran, so WorkspaceMixin has set the role by now.
        "workspace_perms": WorkspacePermissions(getattr(request, "workspace_role", None)),
    }
