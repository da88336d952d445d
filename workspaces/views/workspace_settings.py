"""Workspace settings → Settings (display name, delete the workspace) and the audit
log; `SettingsPageMixin` is the frame of every side tab of Workspace settings."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.views.generic import TemplateView

from .. import selectors, services
from ..forms import WorkspaceDeleteForm, WorkspaceDisplayNameForm, submit_form
from ..mixins import LAST_WORKSPACE_SESSION_KEY, WorkspaceMixin
from ..permissions import Action

AUDIT_LOG_PAGE_SIZE = 50


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
        renamed = submit_form(
            form,
            lambda: services.workspace_update(
                workspace=self.workspace,
                display_name=form.cleaned_data["display_name"],
                actor=self.principal,
            ),
        )
        if renamed is None:
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(request, "Workspace settings saved.")
        return redirect("workspace_settings", workspace=self.workspace.name)


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
