"""Screens of usage: the model API's Logs and Metrics tabs and the workspace Usage page.
Thin views: a form validates, a selector reads, the template renders."""

from functools import cached_property

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import FormView, TemplateView

from integrations import pricing
from models_api import selectors as model_api_selectors
from models_api.mixins import ModelAPIPageMixin
from workspaces.mixins import WorkspaceMixin
from workspaces.permissions import Action

from . import charts, selectors, services
from .forms import LogFilterForm, PriceOverrideForm


def _range_choices():
    return [(key, r.label) for key, r in selectors.RANGES.items()]


def _metrics_context(request, **selection) -> dict:
    range_key = request.GET.get("range")
    if range_key not in selectors.RANGES:  # none chosen (or an unknown one): fit the calls
        range_key = selectors.fitting_range_key(**selection)
    result = selectors.usage_metrics(range_key=range_key, **selection)
    return {
        "result": result,
        "summary": result["summary"],
        "charts": charts.usage_charts(result),
        "range_key": range_key,
        "range_choices": _range_choices(),
    }


class ModelAPILogsView(ModelAPIPageMixin, TemplateView):
    """Every call of the model API, newest first, filtered and paginated; each row opens
    onto its details. Prompts, answers and keys are never recorded, so never shown."""

    template_name = "usage/logs.html"
    tab = "logs"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = LogFilterForm(self.request.GET or None)
        records, next_cursor = [], ""
        # An invalid filter shows its errors and no rows.
        if not form.is_bound or form.is_valid():
            records, next_cursor = self._page(form.filters() if form.is_bound else {})
        query = self.request.GET.copy()
        query.pop("cursor", None)
        context.update(
            form=form,
            records=records,
            next_cursor=next_cursor,
            filter_query=query.urlencode(),
            is_first_page=not self.request.GET.get("cursor"),
        )
        return context

    def _page(self, filters: dict) -> tuple[list, str]:
        records = selectors.usage_records(
            workspace=self.workspace, model_api=self.model_api, **filters
        )
        try:
            return selectors.log_page(records, cursor=self.request.GET.get("cursor"))
        except ValidationError:
            raise Http404("This page of logs does not exist.") from None


class ModelAPIMetricsView(ModelAPIPageMixin, TemplateView):
    template_name = "usage/metrics.html"
    tab = "metrics"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            _metrics_context(self.request, workspace=self.workspace, model_api=self.model_api)
        )
        return context


# --- workspace Usage page -----------------------------------------------------------------------


class WorkspaceUsageView(WorkspaceMixin, TemplateView):
    template_name = "usage/usage.html"
    required_action = Action.VIEW_USAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(section="usage", **_metrics_context(self.request, workspace=self.workspace))
        result = context["result"]
        context["callers"] = selectors.spend_by_caller(
            workspace=self.workspace, start=result["start"], end=result["end"]
        )
        return context


# --- Workspace settings → Prices ---------------------------------------------------------------


class PricesView(WorkspaceMixin, TemplateView):
    """What each model API's calls cost (its own prices or its model's list price), and
    the shipped list-price tables. Everyone who sees usage sees prices; admins set them."""

    template_name = "usage/prices.html"
    required_action = Action.VIEW_USAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            section="settings",
            settings_tab="prices",
            rows=selectors.model_api_prices(workspace=self.workspace),
            tables=[table for tables in pricing.price_tables().values() for table in tables],
            can_manage_prices=self.can(Action.MANAGE_PRICES),
        )
        return context


class PriceOverrideView(WorkspaceMixin, FormView):
    """Set (or clear, back to the list price) a model API's own prices."""

    template_name = "usage/price_override.html"
    form_class = PriceOverrideForm
    required_action = Action.MANAGE_PRICES

    @cached_property
    def model_api(self):
        return model_api_selectors.model_api_get(workspace=self.workspace, name=self.kwargs["name"])

    def get_initial(self):
        price = selectors.price_of(self.model_api)
        if price is None:
            return {}
        return {
            "input_per_million": price.input,
            "output_per_million": price.output or 0,
            "cached_input_per_million": price.cached_input,
        }

    def post(self, request, *args, **kwargs):
        if "clear" in request.POST:
            if services.clear_price_override(model_api=self.model_api, actor=self.principal):
                messages.success(request, f"{self.model_api.name} is back to the list price.")
            return redirect("workspace_prices", self.workspace.name)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        services.set_price_override(
            model_api=self.model_api, actor=self.principal, **form.cleaned_data
        )
        messages.success(self.request, f"Prices of {self.model_api.name} saved.")
        return redirect("workspace_prices", self.workspace.name)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        model_api = self.model_api
        context.update(
            section="settings",
            settings_tab="prices",
            model_api=model_api,
            list_price=pricing.list_price(model_api.runtime_type, model_api.runtime_model),
            has_override=hasattr(model_api, "price_override"),
        )
        return context
