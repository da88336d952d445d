"""Screens of usage: the model API's Logs and Metrics tabs and the workspace Usage page.
Thin views: a form validates, a selector reads, the template renders."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.views.generic import TemplateView

from models_api.mixins import ModelAPIPageMixin
from workspaces.mixins import WorkspaceMixin
from workspaces.permissions import Action

from . import charts, selectors
from .forms import LogFilterForm


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
        return context
