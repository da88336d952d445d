"""The console's HTML screens for accounts and workspaces.

Views stay thin: a form validates input, one service writes, `messages` reports the
result. Permissions come from `WorkspaceMixin` (`required_action` for reads,
`required_write_action` for writes), which asks the permission layer.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.views import View
from django.views.generic import TemplateView

from . import selectors, services
from .forms import (
    ApiKeyForm,
    InvitationForm,
    MemberRoleForm,
    ServiceAccountForm,
    WorkspaceCreateForm,
    WorkspaceDeleteForm,
    WorkspaceDisplayNameForm,
    add_service_error,
)
from .mixins import LAST_WORKSPACE_SESSION_KEY, WorkspaceMixin
from .models import Invitation
from .permissions import Action, Role
from .principals import Principal
from .services import Conflict

AUDIT_LOG_PAGE_SIZE = 50


def _render_with_secret(view, context):
    """Render a page that shows a freshly created key. It is in this one response only
    (never in the session or a later page) and must not be cached by the browser."""
    response = view.render_to_response(context)
    add_never_cache_headers(response)
    return response


# --- home and workspaces ---------------------------------------------------------------


class HomeView(View):
    """Signed out: the login page. Signed in: the last used (or first) workspace, or the
    "Create your workspace" page when the user has none."""

    def get(self, request):
        if not request.user.is_authenticated:
            return redirect("account_login")
        workspaces = selectors.workspaces_for_user(request.user)
        last = request.session.get(LAST_WORKSPACE_SESSION_KEY)
        workspace = (last and workspaces.filter(name=last).first()) or workspaces.first()
        if workspace is None:
            return redirect("workspace_create")
        return redirect("workspace_home", workspace=workspace.name)


class WorkspaceHomeView(WorkspaceMixin, View):
    """`/<workspace>/`: the workspace's main page — its model APIs once that screen is
    installed, its settings until then."""

    def get(self, request, workspace):
        models_url = f"/{self.workspace.name}/models/"
        try:
            resolve(models_url)
        except Resolver404:
            return redirect("workspace_settings", workspace=self.workspace.name)
        return HttpResponseRedirect(models_url)


class WorkspaceCreateView(LoginRequiredMixin, TemplateView):
    template_name = "workspaces/workspace_create.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", WorkspaceCreateForm())
        context["has_workspace"] = selectors.workspaces_for_user(self.request.user).exists()
        context["invitations"] = selectors.pending_invitations_for_user(user=self.request.user)
        return context

    def post(self, request):
        form = WorkspaceCreateForm(request.POST)
        if form.is_valid():
            try:
                workspace = services.workspace_create(
                    name=form.cleaned_data["name"],
                    display_name=form.cleaned_data["display_name"],
                    creator=request.user,
                )
            except ValidationError as error:
                add_service_error(form, error, field="name")
            else:
                messages.success(request, f"Workspace “{workspace.display_name}” created.")
                return redirect("workspace_home", workspace=workspace.name)
        return self.render_to_response(self.get_context_data(form=form))


# --- workspace settings ----------------------------------------------------------------


class SettingsPageMixin(WorkspaceMixin):
    """A page under Workspace settings: the side tab to highlight and the nav section."""

    settings_tab = "settings"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(section="settings", settings_tab=self.settings_tab)
        return context


class WorkspaceSettingsView(SettingsPageMixin, TemplateView):
    template_name = "workspaces/settings.html"
    required_action = Action.VIEW_WORKSPACE
    required_write_action = Action.EDIT_WORKSPACE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault(
            "form", WorkspaceDisplayNameForm(initial={"display_name": self.workspace.display_name})
        )
        context.setdefault("delete_form", WorkspaceDeleteForm(workspace_name=self.workspace.name))
        context["can_edit"] = self.can(Action.EDIT_WORKSPACE)
        context["can_delete"] = self.can(Action.DELETE_WORKSPACE)
        return context

    def post(self, request, workspace):
        form = WorkspaceDisplayNameForm(request.POST)
        if form.is_valid():
            try:
                services.workspace_update(
                    workspace=self.workspace,
                    display_name=form.cleaned_data["display_name"],
                    actor=self.principal,
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(request, "Workspace settings saved.")
                return redirect("workspace_settings", workspace=self.workspace.name)
        return self.render_to_response(self.get_context_data(form=form))


class WorkspaceDeleteView(SettingsPageMixin, TemplateView):
    template_name = "workspaces/settings.html"
    required_action = Action.DELETE_WORKSPACE
    http_method_names = ["post"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = WorkspaceDisplayNameForm(
            initial={"display_name": self.workspace.display_name}
        )
        context["can_edit"] = self.can(Action.EDIT_WORKSPACE)
        context["can_delete"] = True
        return context

    def post(self, request, workspace):
        form = WorkspaceDeleteForm(request.POST, workspace_name=self.workspace.name)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(delete_form=form))
        name = self.workspace.display_name
        services.workspace_delete(workspace=self.workspace, actor=self.principal)
        request.session.pop(LAST_WORKSPACE_SESSION_KEY, None)
        messages.success(request, f"Workspace “{name}” deleted.")
        return redirect("home")


# --- team -------------------------------------------------------------------------------


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
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    workspace=self.workspace,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=self.principal,
                )
            except (ValidationError, Conflict) as error:
                add_service_error(form, error, field="email")
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("workspace_team", workspace=self.workspace.name)
        return self.render_to_response(self.get_context_data(invite_form=form))


class TeamActionView(SettingsPageMixin, View):
    """Base of the Team page's one-button actions: POST only, then back to the page."""

    http_method_names = ["post"]
    required_action = Action.MANAGE_MEMBERS

    def back(self):
        return redirect("workspace_team", workspace=self.workspace.name)


class MemberRoleView(TeamActionView):
    def post(self, request, workspace, membership_id):
        membership = selectors.membership_get_by_id(
            workspace=self.workspace, membership_id=membership_id
        )
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a valid role.")
            return self.back()
        try:
            services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=self.principal
            )
        except (ValidationError, Conflict) as error:
            messages.error(request, _message(error))
        else:
            messages.success(
                request, f"{membership.user.email} is now {membership.get_role_display()}."
            )
        return self.back()


class MemberRemoveView(TeamActionView):
    def post(self, request, workspace, membership_id):
        membership = selectors.membership_get_by_id(
            workspace=self.workspace, membership_id=membership_id
        )
        try:
            services.membership_remove(membership=membership, actor=self.principal)
        except Conflict as error:
            messages.error(request, str(error))
            return self.back()
        messages.success(request, f"{membership.user.email} was removed from the workspace.")
        if membership.user_id == request.user.pk:
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
        try:
            services.invitation_resend(invitation=invitation, actor=self.principal)
        except Conflict as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, f"Invitation resent to {invitation.email}; the old link no longer works."
            )
        return self.back()


class InvitationRevokeView(TeamActionView):
    def post(self, request, workspace, invitation_id):
        invitation = selectors.invitation_get(workspace=self.workspace, invitation_id=invitation_id)
        try:
            services.invitation_revoke(invitation=invitation, actor=self.principal)
        except Conflict as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Invitation for {invitation.email} revoked.")
        return self.back()


def _message(error: ValidationError | Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


# --- invitations (the invited person's side) ----------------------------------------------


class InvitationAcceptView(TemplateView):
    """`/invitations/<token>/`: the emailed link. Shows who invited whom to what, and
    asks a signed-in user with the invited email to accept (a POST: a link preview or
    prefetch must not join anyone to a workspace)."""

    template_name = "workspaces/invitation.html"

    def dispatch(self, request, *args, token, **kwargs):
        self.invitation = selectors.invitation_get_by_token(token=token)
        return super().dispatch(request, *args, token=token, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invitation, user = self.invitation, self.request.user
        state = self._state()
        context.update(invitation=invitation, state=state)
        if state == "signed_out":
            next_query = urlencode({"next": self.request.path})
            context["login_url"] = f"{reverse('account_login')}?{next_query}"
            signup_query = urlencode({"next": self.request.path, "email": invitation.email})
            context["signup_url"] = f"{reverse('account_signup')}?{signup_query}"
        if state == "wrong_email":
            context["signed_in_as"] = user.email
        return context

    def _state(self) -> str:
        invitation, user = self.invitation, self.request.user
        if invitation is None:
            return "unknown"
        status = invitation.status
        if status == Invitation.Status.ACCEPTED:
            return "accepted"
        if status != Invitation.Status.PENDING:
            return status  # "expired" or "revoked"
        if not user.is_authenticated:
            return "signed_out"
        if user.email.lower() != invitation.email.lower():
            return "wrong_email"
        return "ready"

    def _user_is_member(self) -> bool:
        user = self.request.user
        return user.is_authenticated and bool(
            selectors.membership_for_user(workspace=self.invitation.workspace, user=user)
        )

    STATUS_FOR_STATE = {"unknown": 404, "expired": 410, "revoked": 410, "wrong_email": 403}

    def get(self, request, token):
        state = self._state()
        if state == "accepted" and self._user_is_member():
            return redirect("workspace_home", workspace=self.invitation.workspace.name)
        return self.render_to_response(
            self.get_context_data(), status=self.STATUS_FOR_STATE.get(state, 200)
        )

    def post(self, request, token):
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        if self._state() != "ready":
            return self.get(request, token)
        try:
            membership = services.invitation_accept(invitation=self.invitation, user=request.user)
        except (ValidationError, Conflict):
            # Raced with a revoke, resend or another accept: show the current state.
            self.invitation.refresh_from_db()
            return self.get(request, token)
        return _joined(request, membership)


class PendingInvitationAcceptView(LoginRequiredMixin, View):
    """Accept from the "Create your workspace" page: only invitations for the user's
    verified email address are reachable here (see `pending_invitations_for_user`)."""

    http_method_names = ["post"]

    def post(self, request, invitation_id):
        invitation = (
            selectors.pending_invitations_for_user(user=request.user)
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None:
            messages.error(request, "This invitation is no longer pending.")
            return redirect("workspace_create")
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except (ValidationError, Conflict) as error:
            messages.error(request, _message(error))
            return redirect("workspace_create")
        return _joined(request, membership)


def _joined(request, membership):
    workspace = membership.workspace
    messages.success(
        request,
        f"You joined the workspace “{workspace.display_name}” as {membership.get_role_display()}.",
    )
    return redirect("workspace_home", workspace=workspace.name)


# --- service accounts ----------------------------------------------------------------------


class ServiceAccountListView(SettingsPageMixin, TemplateView):
    template_name = "workspaces/service_accounts.html"
    settings_tab = "service_accounts"
    required_action = Action.VIEW_SERVICE_ACCOUNTS
    required_write_action = Action.MANAGE_SERVICE_ACCOUNTS

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["service_accounts"] = selectors.service_accounts_for_workspace(
            workspace=self.workspace
        )
        context["can_manage"] = self.can(Action.MANAGE_SERVICE_ACCOUNTS)
        context.setdefault("form", ServiceAccountForm())
        return context

    def post(self, request, workspace):
        form = ServiceAccountForm(request.POST)
        if form.is_valid():
            try:
                account = services.service_account_create(
                    workspace=self.workspace, actor=self.principal, **form.cleaned_data
                )
            except (ValidationError, Conflict) as error:
                add_service_error(form, error, field="name")
            else:
                messages.success(request, f"Service account “{account.name}” created.")
                return redirect(
                    "service_account_detail",
                    workspace=self.workspace.name,
                    client_id=account.client_id,
                )
        return self.render_to_response(self.get_context_data(form=form))


class ServiceAccountMixin(SettingsPageMixin):
    settings_tab = "service_accounts"
    required_action = Action.VIEW_SERVICE_ACCOUNTS
    required_write_action = Action.MANAGE_SERVICE_ACCOUNTS

    @property
    def service_account(self):
        """Looked up inside the URL's workspace only (after WorkspaceMixin checked access),
        so another workspace's account is a 404."""
        if not hasattr(self, "_service_account"):
            self._service_account = selectors.service_account_get(
                workspace=self.workspace, client_id=self.kwargs["client_id"]
            )
        return self._service_account


class ServiceAccountDetailView(ServiceAccountMixin, TemplateView):
    """The account and its keys; POST creates a key and shows it once, in the response."""

    template_name = "workspaces/service_account_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            service_account=self.service_account,
            api_keys=selectors.api_keys_for_service_account(service_account=self.service_account),
            can_manage=self.can(Action.MANAGE_SERVICE_ACCOUNTS),
        )
        context.setdefault("form", ApiKeyForm())
        return context

    def post(self, request, workspace, client_id):
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                api_key, raw_key = services.service_account_api_key_create(
                    service_account=self.service_account, actor=self.principal, **form.cleaned_data
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                return _render_with_secret(
                    self,
                    self.get_context_data(form=ApiKeyForm(), new_key=raw_key, new_key_row=api_key),
                )
        return self.render_to_response(self.get_context_data(form=form))


class ServiceAccountKeyRevokeView(ServiceAccountMixin, View):
    http_method_names = ["post"]
    required_action = Action.MANAGE_SERVICE_ACCOUNTS

    def post(self, request, workspace, client_id, key_id):
        api_key = selectors.api_key_get_for_service_account(
            service_account=self.service_account, key_id=key_id
        )
        services.api_key_revoke(api_key=api_key, actor=self.principal)
        messages.success(request, f"Key {api_key.prefix}… revoked.")
        return redirect(
            "service_account_detail", workspace=self.workspace.name, client_id=client_id
        )


class ServiceAccountDeleteView(ServiceAccountMixin, View):
    http_method_names = ["post"]
    required_action = Action.MANAGE_SERVICE_ACCOUNTS

    def post(self, request, workspace, client_id):
        account = self.service_account
        services.service_account_delete(service_account=account, actor=self.principal)
        messages.success(request, f"Service account “{account.name}” and its keys deleted.")
        return redirect("service_accounts", workspace=self.workspace.name)


# --- audit log ----------------------------------------------------------------------------


class AuditLogView(SettingsPageMixin, TemplateView):
    template_name = "workspaces/audit_log.html"
    settings_tab = "audit_log"
    required_action = Action.VIEW_AUDIT_LOG

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        paginator = Paginator(
            selectors.audit_log_for_workspace(workspace=self.workspace), AUDIT_LOG_PAGE_SIZE
        )
        context["page_obj"] = paginator.get_page(self.request.GET.get("page"))
        return context


# --- profile ------------------------------------------------------------------------------


class ProfileSecurityView(LoginRequiredMixin, TemplateView):
    """Personal API keys (they reach every workspace the user belongs to)."""

    template_name = "workspaces/profile_security.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["section"] = "profile"
        context["api_keys"] = selectors.api_keys_for_user(user=self.request.user)
        context.setdefault("form", ApiKeyForm())
        return context

    def post(self, request):
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                api_key, raw_key = services.personal_api_key_create(
                    user=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                return _render_with_secret(
                    self,
                    self.get_context_data(form=ApiKeyForm(), new_key=raw_key, new_key_row=api_key),
                )
        return self.render_to_response(self.get_context_data(form=form))


class PersonalKeyRevokeView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request, key_id):
        api_key = selectors.api_key_get_for_user(user=request.user, key_id=key_id)
        services.api_key_revoke(api_key=api_key, actor=Principal.for_user(request.user))
        messages.success(request, f"Key {api_key.prefix}… revoked.")
        return redirect("profile_security")
