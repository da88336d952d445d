"""Where a person lands: the home page, a workspace's main page, and "Create your
workspace" (onboarding, also where pending invitations are listed)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.views import View
from django.views.generic import TemplateView

from .. import selectors, services
from ..forms import WorkspaceCreateForm, submit_form
from ..mixins import LAST_WORKSPACE_SESSION_KEY, WorkspaceMixin


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
    """`/<workspace>/`: the workspace's main page, its model APIs. The page is looked up
    by path because it belongs to another app (this one does not depend on it); without
    that app the workspace opens on its settings."""

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
        workspace = submit_form(
            form,
            lambda: services.workspace_create(
                name=form.cleaned_data["name"],
                display_name=form.cleaned_data["display_name"],
                creator=request.user,
            ),
            error_field="name",
        )
        if workspace is None:
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(request, f"Workspace “{workspace.display_name}” created.")
        return redirect("workspace_home", workspace=workspace.name)
