"""Workspace settings → Integrations (DESIGN.md §9): providers, their connections, the
"Create integration" form, a connection's page (status, catalog, rotate key, delete).

Members see everything read-only; writes need `MANAGE_INTEGRATIONS` (WorkspaceMixin
refuses a member's POST with 403). Another workspace's connection is a 404.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.generic import TemplateView

from workspaces.forms import submit_form
from workspaces.mixins import WorkspaceMixin
from workspaces.services import Conflict

from . import permissions, pricing, selectors, services
from .catalog import catalog_snapshot
from .catalog_search import rank_models
from .forms import ConnectionCreateForm, ConnectionSettingsForm, RotateKeyForm
from .models import IntegrationConnection, PendingStatus

CATALOG_PAGE_SIZE = 50


def key_check_outcome(connection: IntegrationConnection) -> tuple[int, str]:
    """A message level and sentence for where the check of a connection's key stands
    now (it may have ended before the page that reports it)."""
    provider = connection.provider.display_name
    if connection.status == IntegrationConnection.Status.VALID:
        return messages.SUCCESS, f"{provider} accepted its key."
    if connection.status == IntegrationConnection.Status.INVALID:
        reason = connection.status_message or "refused"
        return messages.ERROR, f"The key could not be confirmed with {provider}: {reason}."
    return messages.SUCCESS, f"Its key is being checked with {provider}."


def replacement_outcome(connection: IntegrationConnection) -> tuple[int, str]:
    """A message level and sentence for where the check of a replacement key stands."""
    provider = connection.provider.display_name
    if connection.pending_status == PendingStatus.CHECKING:
        return messages.SUCCESS, (
            f"The new key is being checked with {provider}; the current key serves until "
            "it is accepted."
        )
    if connection.pending_status == PendingStatus.REJECTED:
        return messages.ERROR, (
            f"The new key was not accepted ({connection.pending_message or 'refused'}); "
            f"the key {connection.secret_hint} is still in use."
        )
    return messages.SUCCESS, f"Key replaced: {provider} accepted the new key."


class IntegrationsMixin(WorkspaceMixin):
    """A page of the Integrations settings tab."""

    required_action = permissions.VIEW
    required_write_action = permissions.MANAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            section="settings",
            settings_tab="integrations",
            can_manage=self.can(permissions.MANAGE),
        )
        return context

    def render_to_response(self, context, **kwargs):
        # Pages with connection details (hints, messages) are not for shared caches.
        response = super().render_to_response(context, **kwargs)
        add_never_cache_headers(response)
        return response

    def connection_url(self, connection: IntegrationConnection) -> str:
        return reverse(
            "integration_connection",
            kwargs={
                "workspace": self.workspace.name,
                "provider": connection.integration,
                "name": connection.name,
            },
        )


class ProviderMixin(IntegrationsMixin):
    def dispatch(self, request, *args, **kwargs):
        self.provider = selectors.provider_get(kwargs["provider"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["provider"] = self.provider  # the object, not the URL's provider id
        return context


class ConnectionMixin(ProviderMixin):
    """`self.connection`: the workspace's connection of this provider named in the URL."""

    def get_connection(self) -> IntegrationConnection:
        connection = selectors.connection_get(workspace=self.workspace, name=self.kwargs["name"])
        if connection.integration != self.provider.id:
            raise Http404("No such connection for this provider.")
        return connection


class IntegrationsView(IntegrationsMixin, TemplateView):
    template_name = "integrations/index.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            providers=selectors.providers_with_counts(workspace=self.workspace), **kwargs
        )


class ProviderView(ProviderMixin, TemplateView):
    """The provider's connections and, for admins, the "Create integration" form."""

    template_name = "integrations/provider.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["connections"] = selectors.connections_for_provider(
            workspace=self.workspace, provider_id=self.provider.id
        )
        if context["can_manage"]:
            context.setdefault("form", ConnectionCreateForm(provider=self.provider))
        return context


class ConnectionCreateView(ProviderMixin, TemplateView):
    """The "Create integration" form on its own page; admins only, also to look at."""

    template_name = "integrations/connection_create.html"
    required_action = permissions.MANAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ConnectionCreateForm(provider=self.provider))
        return context

    def post(self, request, workspace, provider):
        form = ConnectionCreateForm(request.POST, provider=self.provider)
        connection = submit_form(form, lambda: self.create_connection(form), error_field="name")
        if connection is None:
            form.ask_for_secrets_again()
            return self.render_to_response(self.get_context_data(form=form))
        connection.refresh_from_db()  # the check may have ended already (eager tasks)
        level, outcome = key_check_outcome(connection)
        messages.add_message(request, level, f"Integration “{connection.name}” created. {outcome}")
        return redirect(self.connection_url(connection))

    def create_connection(self, form: ConnectionCreateForm) -> IntegrationConnection:
        return services.integration_connection_create(
            workspace=self.workspace,
            name=form.cleaned_data["name"],
            display_name=form.cleaned_data["display_name"],
            integration=self.provider.id,
            config=form.config(),
            secret=form.secret(),
            actor=self.principal,
        )


class ConnectionDetailView(ConnectionMixin, TemplateView):
    template_name = "integrations/connection_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        connection = context.setdefault("connection", self.get_connection())
        context["model_apis"] = selectors.model_apis_using_connection(connection=connection)
        context["config_rows"] = [
            (item.label, connection.config.get(item.name))
            for item in self.provider.config_fields
            if item.name != "baseUrl"  # shown with its default above
        ]
        if context["can_manage"]:
            context.setdefault("rotate_form", RotateKeyForm(provider=self.provider))
            context.setdefault("settings_form", self.settings_form(connection))
        return context

    def settings_form(self, connection: IntegrationConnection) -> ConnectionSettingsForm:
        """The settings form filled with what the connection holds now."""
        return ConnectionSettingsForm(
            provider=self.provider,
            initial={"display_name": connection.display_name, **connection.config},
        )


class ConnectionStatusView(ConnectionMixin, TemplateView):
    """The status badge alone; polled by htmx while the key is being checked (on the
    connection's page, with how a replacement key's check stands)."""

    template_name = "integrations/_status.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            connection=self.get_connection(),
            show_pending_key=self.request.GET.get("pending") == "1",
            **kwargs,
        )


class ConnectionModelsView(ConnectionMixin, TemplateView):
    """The connection's catalog as a table, filtered by `q` (htmx, as one types)."""

    template_name = "integrations/_catalog.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        connection = self.get_connection()
        refresh = self.request.GET.get("refresh") == "1"
        snapshot = catalog_snapshot(connection, refresh=refresh)
        query = self.request.GET.get("q", "")
        context.update(
            connection=connection,
            snapshot=snapshot,
            query=query,
            models=rank_models(snapshot.models, query, CATALOG_PAGE_SIZE),
            total=len(snapshot.models),
            price_table=pricing.table_in_force(connection.integration),
        )
        return context


class ConnectionFormView(ConnectionDetailView):
    """A form of the connection's page: POST here; errors show on that page."""

    def get(self, request, workspace, provider, name):
        return redirect(self.connection_url(self.get_connection()))


class ConnectionRotateView(ConnectionFormView):
    def post(self, request, workspace, provider, name):
        connection = self.get_connection()
        form = RotateKeyForm(request.POST, provider=self.provider)
        rotated = submit_form(
            form,
            lambda: services.integration_connection_update(
                connection=connection, actor=self.principal, secret=form.secret()
            ),
        )
        if rotated is None:
            form.ask_for_secrets_again()
            return self.render_to_response(self.get_context_data(rotate_form=form))
        rotated.refresh_from_db()  # the check may have ended already (eager tasks)
        messages.add_message(request, *replacement_outcome(rotated))
        return redirect(self.connection_url(connection))


class ConnectionSettingsView(ConnectionFormView):
    def post(self, request, workspace, provider, name):
        connection = self.get_connection()
        form = ConnectionSettingsForm(request.POST, provider=self.provider)
        saved = submit_form(
            form,
            lambda: services.integration_connection_update(
                connection=connection,
                actor=self.principal,
                display_name=form.cleaned_data["display_name"],
                config=form.config(),
                secret=form.secret(),
            ),
        )
        if saved is None:
            form.ask_for_secrets_again()
            return self.render_to_response(self.get_context_data(settings_form=form))
        messages.success(request, "Settings saved.")
        return redirect(self.connection_url(connection))


class ConnectionRecheckView(ConnectionFormView):
    def post(self, request, workspace, provider, name):
        connection = services.integration_connection_recheck(
            connection=self.get_connection(), actor=self.principal
        )
        messages.info(request, "Checking the key again.")
        return redirect(self.connection_url(connection))


class ConnectionDeleteView(ConnectionMixin, TemplateView):
    template_name = "integrations/connection_delete.html"
    required_action = permissions.MANAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        connection = self.get_connection()
        context.update(
            connection=connection,
            model_apis=selectors.model_apis_using_connection(connection=connection),
        )
        return context

    def post(self, request, workspace, provider, name):
        connection = self.get_connection()
        try:
            services.integration_connection_delete(connection=connection, actor=self.principal)
        except Conflict as error:
            messages.error(request, str(error))
            return redirect(self.connection_url(connection))
        messages.success(request, f"Integration “{connection.name}” deleted.")
        return redirect("integrations_provider", workspace=workspace, provider=provider)
