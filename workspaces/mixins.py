"""Mixins for the console's HTML views: the workspace and the role come from the access
layer, what the role may do from the permission layer. A workspace the user cannot
reach is the same 404 as one that does not exist."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from . import access
from .permissions import Action, role_allows
from .principals import Principal

# Session key of the workspace the user last opened; the home page returns there.
LAST_WORKSPACE_SESSION_KEY = "last_workspace"


class WorkspaceMixin(LoginRequiredMixin):
    """Sets `self.workspace`, `self.role`, `self.principal`. `required_action` is checked
    for GET/HEAD; `required_write_action` for any other method (defaults to the same)."""

    required_action: Action = Action.VIEW_WORKSPACE
    required_write_action: Action | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.principal = Principal.for_user(request.user)
        try:
            reach = access.workspace_access(self.principal, kwargs["workspace"])
        except access.WorkspaceUnreachable as unreachable:
            raise Http404(str(unreachable)) from unreachable
        self.workspace, self.role = reach.workspace, reach.role
        request.workspace, request.workspace_role = self.workspace, self.role
        is_read = request.method in ("GET", "HEAD", "OPTIONS")
        action = (
            self.required_action
            if is_read
            else (self.required_write_action or self.required_action)
        )
        if not role_allows(self.role, action):
            raise PermissionDenied("Your role in this workspace does not allow this.")
        # Written only when it changes, so browsing one workspace costs no session write.
        if request.session.get(LAST_WORKSPACE_SESSION_KEY) != self.workspace.name:
            request.session[LAST_WORKSPACE_SESSION_KEY] = self.workspace.name
        return super().dispatch(request, *args, **kwargs)

    def can(self, action: Action) -> bool:
        return role_allows(self.role, action)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            workspace=self.workspace,
            role=self.role,
            is_admin=self.can(Action.MANAGE_MEMBERS),
        )
        return context
