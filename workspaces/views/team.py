"""Workspace settings → Team: members and their roles, invitations (the admin's side),
leaving the workspace."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView

from .. import selectors, services
from ..forms import InvitationForm, MemberRoleForm, service_error_message, submit_form
from ..mixins import LAST_WORKSPACE_SESSION_KEY
from ..permissions import Action, Role
from ..services import Conflict
from .workspace_settings import SettingsPageMixin


class TeamView(SettingsPageMixin, TemplateView):
    template_name = "workspaces/team.html"
    settings_tab = "team"
    required_action = Action.VIEW_MEMBERS
    required_write_action = Action.MANAGE_MEMBERS

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        memberships = list(selectors.members_for_workspace(workspace=self.workspace))
        context.update(
            memberships=memberships,
            admin_count=sum(1 for m in memberships if m.role == Role.ADMIN),
            role_choices=MemberRoleForm.base_fields["role"].choices,
            invitations=selectors.open_invitations_for_workspace(workspace=self.workspace),
            can_manage=self.can(Action.MANAGE_MEMBERS),
        )
        context.setdefault("invite_form", InvitationForm())
        return context

    def post(self, request, workspace):
        """Invite someone by email."""
        form = InvitationForm(request.POST)
        invitation = submit_form(
            form,
            lambda: services.invitation_create(
                workspace=self.workspace, actor=self.principal, **form.cleaned_data
            ),
            error_field="email",
        )
        if invitation is None:
            return self.render_to_response(self.get_context_data(invite_form=form))
        messages.success(request, f"Invitation sent to {invitation.email}.")
        return redirect("workspace_team", workspace=self.workspace.name)


class TeamActionView(SettingsPageMixin, View):
    """Base of the Team page's one-button actions: POST only, then back to the page."""

    http_method_names = ["post"]
    required_action = Action.MANAGE_MEMBERS

    def back(self):
        return redirect("workspace_team", workspace=self.workspace.name)

    def flash_outcome(self, write: Callable[[], object], *, success: str) -> bool:
        """Do one write; flash `success`, or why the service refused it. True if done."""
        try:
            write()
        except (ValidationError, Conflict) as error:
            messages.error(self.request, service_error_message(error))
            return False
        messages.success(self.request, success)
        return True


class MemberRoleView(TeamActionView):
    def post(self, request, workspace, membership_id):
        membership = selectors.membership_get_by_id(
            workspace=self.workspace, membership_id=membership_id
        )
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a valid role.")
            return self.back()
        role = form.cleaned_data["role"]
        self.flash_outcome(
            lambda: services.membership_change_role(
                membership=membership, role=role, actor=self.principal
            ),
            success=f"{membership.user.email} is now {Role(role).label}.",
        )
        return self.back()


class MemberRemoveView(TeamActionView):
    def post(self, request, workspace, membership_id):
        membership = selectors.membership_get_by_id(
            workspace=self.workspace, membership_id=membership_id
        )
        removed = self.flash_outcome(
            lambda: services.membership_remove(membership=membership, actor=self.principal),
            success=f"{membership.user.email} was removed from the workspace.",
        )
        if removed and membership.user_id == request.user.pk:
            return redirect("home")
        return self.back()


class LeaveWorkspaceView(TeamActionView):
    # Any member may leave; only the last admin is refused (by the service).
    required_action = Action.VIEW_MEMBERS

    def post(self, request, workspace):
        membership = selectors.membership_for_user(workspace=self.workspace, user=request.user)
        try:
            services.membership_remove(membership=membership, actor=self.principal)
        except Conflict:
            messages.error(
                request,
                "You are the last admin of this workspace, so you cannot leave it. "
                "Make another member admin first, or delete the workspace.",
            )
            return self.back()
        request.session.pop(LAST_WORKSPACE_SESSION_KEY, None)
        messages.success(request, f"You left the workspace “{self.workspace.display_name}”.")
        return redirect("home")


class InvitationResendView(TeamActionView):
    def post(self, request, workspace, invitation_id):
        invitation = selectors.invitation_get(workspace=self.workspace, invitation_id=invitation_id)
        self.flash_outcome(
            lambda: services.invitation_resend(invitation=invitation, actor=self.principal),
            success=f"Invitation resent to {invitation.email}; the old link no longer works.",
        )
        return self.back()


class InvitationRevokeView(TeamActionView):
    def post(self, request, workspace, invitation_id):
        invitation = selectors.invitation_get(workspace=self.workspace, invitation_id=invitation_id)
        self.flash_outcome(
            lambda: services.invitation_revoke(invitation=invitation, actor=self.principal),
            success=f"Invitation for {invitation.email} revoked.",
        )
        return self.back()
