"""Workspace settings → Service accounts: the list, one account's page with its API
keys, revoking a key, rotating its OAuth client secret, deleting an account."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import TemplateView

from .. import selectors, services
from ..forms import ServiceAccountForm, submit_form
from ..permissions import Action
from .api_keys import ApiKeyCreateMixin
from .workspace_settings import SettingsPageMixin


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
        account = submit_form(
            form,
            lambda: services.service_account_create(
                workspace=self.workspace, actor=self.principal, **form.cleaned_data
            ),
            error_field="name",
        )
        if account is None:
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(request, f"Service account “{account.name}” created.")
        return redirect(
            "service_account_detail", workspace=self.workspace.name, client_id=account.client_id
        )


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


class ServiceAccountDetailView(ApiKeyCreateMixin, ServiceAccountMixin, TemplateView):
    """The account and its keys; POST creates a key, then the page shows it once."""

    template_name = "workspaces/service_account_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            service_account=self.service_account,
            api_keys=selectors.api_keys_for_service_account(service_account=self.service_account),
            can_manage=self.can(Action.MANAGE_SERVICE_ACCOUNTS),
        )
        return context

    def create_api_key(self, data):
        return services.service_account_api_key_create(
            service_account=self.service_account, actor=self.principal, **data
        )

    def owned_api_keys(self):
        return selectors.api_keys_for_service_account(service_account=self.service_account)


class ServiceAccountSecretRotateView(ServiceAccountDetailView):
    """POST: a new OAuth client secret, shown once in this response (never stored plain,
    never in the session); the old secret and its tokens stop working at once."""

    http_method_names = ["post"]
    required_action = Action.MANAGE_SERVICE_ACCOUNTS

    def post(self, request, workspace, client_id):
        secret = services.service_account_secret_rotate(
            service_account=self.service_account, actor=self.principal
        )
        response = self.render_to_response(self.get_context_data(new_client_secret=secret))
        add_never_cache_headers(response)
        return response


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
