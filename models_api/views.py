"""Console screens of model APIs (DESIGN.md §9): list, New model API (with the catalog
search fragment), and the model API page with its tabs, edit and delete.

Thin views: the workspace and role come from `WorkspaceMixin`, reads from selectors,
writes from services."""

from functools import cached_property

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.views.generic import FormView, TemplateView

from integrations.catalog_search import catalog_search
from integrations.providers import PROVIDERS
from integrations.selectors import connections_for_provider, connections_for_workspace
from workspaces.forms import add_service_error
from workspaces.permissions import Action
from workspaces.services import Conflict

from . import selectors, services
from .forms import ModelAPICreateForm, ModelAPIEditForm
from .mixins import ModelAPIPageMixin, ModelAPIScreenMixin
from .policies.permissions import DELETE_WITH_POLICIES_MESSAGE, model_api_delete_action
from .usage import selectors as usage_selectors

CATALOG_RESULTS_LIMIT = 50
DEFAULT_PROVIDER = "openai"


class ModelAPIListView(ModelAPIScreenMixin, TemplateView):
    template_name = "models_api/list.html"

    def get_context_data(self, **kwargs):
        model_apis = list(
            usage_selectors.with_usage(selectors.model_apis_for_workspace(workspace=self.workspace))
        )
        for model_api in model_apis:
            provider = PROVIDERS.get(model_api.runtime_type)
            model_api.provider_name = provider.display_name if provider else model_api.runtime_type
        return super().get_context_data(model_apis=model_apis, **kwargs)


class ModelAPICreateView(ModelAPIScreenMixin, FormView):
    required_action = Action.MANAGE_MODEL_APIS
    template_name = "models_api/create.html"
    form_class = ModelAPICreateForm

    @cached_property
    def provider(self):
        provider_id = self.request.POST.get("provider") or self.request.GET.get("provider")
        return PROVIDERS.get(provider_id or DEFAULT_PROVIDER) or PROVIDERS[DEFAULT_PROVIDER]

    @cached_property
    def connections(self) -> list:
        return list(
            connections_for_provider(workspace=self.workspace, provider_id=self.provider.id)
        )

    def get_initial(self):
        initial = {"provider": self.provider.id}
        if self.connections:
            initial["connection"] = self.connections[0].name
        return initial

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "connections": self.connections}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        selected_name = form["connection"].value() or (
            self.connections[0].name if self.connections else None
        )
        context.update(
            providers=list(PROVIDERS.values()),
            provider=self.provider,
            connections=self.connections,
            selected_connection=next(
                (c for c in self.connections if c.name == selected_name), None
            ),
            can_manage_integrations=self.can(Action.MANAGE_INTEGRATIONS),
            endpoint_base=f"{settings.RUN_URL}/{self.workspace.name}/models/",
        )
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            model_api = services.model_api_create(
                workspace=self.workspace,
                name=data["name"],
                display_name=data["display_name"],
                connections=[data["connection_object"]],
                model=data["model"],
                actor=self.principal,
            )
        except (Conflict, ValidationError) as error:
            add_service_error(form, error, "name", renames={"connections": "connection"})
            return self.form_invalid(form)
        messages.add_message(self.request, *creation_outcome(model_api))
        return redirect("model_api_overview", workspace=self.workspace.name, name=model_api.name)


def creation_outcome(model_api) -> tuple[int, str]:
    """A message level and sentence for where a new model API's check stands now (it may
    have ended before the page that reports it)."""
    model_api.refresh_from_db(fields=["status"])
    name = model_api.name
    if model_api.status == model_api.Status.DEPLOYED:
        return messages.SUCCESS, f"Model API “{name}” created and deployed."
    if model_api.status == model_api.Status.FAILED:
        return messages.ERROR, f"Model API “{name}” created, but its check failed (see Events)."
    if model_api.status == model_api.Status.DEACTIVATED:
        return messages.SUCCESS, f"Model API “{name}” created, disabled."
    return messages.SUCCESS, f"Model API “{name}” created; checking the model now."


class CatalogSearchView(ModelAPIScreenMixin, TemplateView):
    """htmx fragment: the connection's catalog filtered by what was typed, as listbox
    options (`?connection=<name>&model=<query>`)."""

    template_name = "models_api/_catalog_results.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The create form's connection field, or the edit form's serving connection.
        name = self.request.GET.get("connection") or self.request.GET.get("connection_0", "")
        query = (self.request.GET.get("model") or self.request.GET.get("q") or "").strip()
        connection = connections_for_workspace(workspace=self.workspace).filter(name=name).first()
        results, error = [], ""
        if connection is None:
            error = "Choose an integration connection first."
        else:
            results = [
                catalog_entry(model)
                for model in catalog_search(connection, query, limit=CATALOG_RESULTS_LIMIT)
            ]
        context.update(connection=connection, query=query, results=results, error=error)
        return context


def _price(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def catalog_entry(model) -> dict:
    """A catalog model with the labels the listbox and the summary panel show."""
    has_price = model.input_price_per_million is not None
    return {
        "id": model.id,
        "description": model.description,
        "modality": model.modality,
        "context_label": f"{model.context_window:,} tokens" if model.context_window else "",
        "price_label": (
            f"{_price(model.input_price_per_million)} in · "
            f"{_price(model.output_price_per_million)} out per 1M tokens (list price)"
            if has_price
            else ""
        ),
    }


class ModelAPIOverviewView(ModelAPIPageMixin, TemplateView):
    template_name = "models_api/overview.html"
    tab = "overview"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            last_call=usage_selectors.model_api_last_call(model_api=self.model_api),
            calls_today=usage_selectors.model_api_calls_today(model_api=self.model_api),
            events=list(reversed(selectors.model_api_events(model_api=self.model_api))),
        )
        return context


class ModelAPIStatusView(ModelAPIPageMixin, TemplateView):
    """htmx fragment: status badge and events, polled while the model API is DEPLOYING."""

    template_name = "models_api/_status.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["events"] = list(reversed(selectors.model_api_events(model_api=self.model_api)))
        return context


class ModelAPICheckAgainView(ModelAPIPageMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        try:
            services.model_api_check_again(model_api=self.model_api, actor=self.principal)
        except Conflict as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Checking the model again.")
        return redirect(
            "model_api_overview", workspace=self.workspace.name, name=self.model_api.name
        )


class ModelAPIPlaygroundView(ModelAPIPageMixin, TemplateView):
    """A chat box calling the real gateway from the browser, authenticated by the session
    cookie and the CSRF token; no key is ever put in the page."""

    required_action = Action.CALL_MODEL_APIS
    template_name = "models_api/playground.html"
    tab = "playground"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # A same-origin path, not RUN_URL (which may be another host), so that the
        # browser sends the session cookie with the call.
        context["chat_path"] = (
            f"/run/{self.workspace.name}/models/{self.model_api.name}/v1/chat/completions"
        )
        return context


class ModelAPIEditView(ModelAPIPageMixin, FormView):
    required_action = Action.MANAGE_MODEL_APIS
    template_name = "models_api/edit.html"
    tab = "edit"

    def get_form(self, form_class=None):
        data = self.request.POST if self.request.method == "POST" else None
        return ModelAPIEditForm.for_model_api(
            self.model_api,
            connections=list(
                connections_for_provider(
                    workspace=self.workspace, provider_id=self.model_api.runtime_type
                )
            ),
            current=selectors.model_api_connections(model_api=self.model_api),
            data=data,
        )

    def form_valid(self, form):
        try:
            services.model_api_update(
                model_api=self.model_api,
                actor=self.principal,
                display_name=form.cleaned_data["display_name"],
                enabled=form.cleaned_data["enabled"],
                connections=form.cleaned_data["connection_objects"],
                model=form.cleaned_data["model"],
            )
        except ValidationError as error:
            add_service_error(
                form, error, renames={"runtime_model": "model", "connections": "connection_0"}
            )
            return self.form_invalid(form)
        messages.success(self.request, f"Model API “{self.model_api.name}” saved.")
        return redirect(
            "model_api_overview", workspace=self.workspace.name, name=self.model_api.name
        )


class ModelAPIDeleteView(ModelAPIPageMixin, TemplateView):
    required_action = Action.MANAGE_MODEL_APIS
    template_name = "models_api/delete.html"
    tab = "edit"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            may_delete=self.can(model_api_delete_action(self.model_api)),
            refusal=DELETE_WITH_POLICIES_MESSAGE,
        )
        return context

    def post(self, request, *args, **kwargs):
        name = self.model_api.name
        if not self.can(model_api_delete_action(self.model_api)):
            raise PermissionDenied(DELETE_WITH_POLICIES_MESSAGE)
        if request.POST.get("confirm_name") != name:
            return self.render_to_response(
                self.get_context_data(
                    confirm_error=f"Type “{name}” to confirm.",
                )
            )
        services.model_api_delete(model_api=self.model_api, actor=self.principal)
        messages.success(request, f"Model API “{name}” deleted.")
        return redirect("model_api_list", workspace=self.workspace.name)
