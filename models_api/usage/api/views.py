"""`/v0` usage endpoints: a model API's metrics and logs, the workspace's usage."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from models_api.selectors import model_api_get
from workspaces.api.base import WorkspaceAPIView
from workspaces.api.representation import operation
from workspaces.permissions import Action

from .. import selectors
from ..forms import LogFilterForm
from .serializers import (
    LOG_PAGE_SCHEMA,
    MODEL_METRICS_SCHEMA,
    WORKSPACE_USAGE_SCHEMA,
    log_representation,
    metrics_representation,
)

RANGE_PARAMETER = OpenApiParameter(
    "range",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=["1h", "24h", "7d", "30d"],
    description="The time range (default 24h).",
)


LOG_PARAMETERS = [
    *(
        OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=text)
        for name, text in (
            ("status", "Status class: 2xx, 4xx or 5xx."),
            ("caller", "Calls of this caller (user email or service account)."),
            ("path", "Calls of this path (v1/chat/completions, ...)."),
            ("since", "From this time (ISO 8601)."),
            ("until", "Up to this time (ISO 8601)."),
            ("cursor", "The `meta.nextCursor` of the previous page."),
        )
    ),
    OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY, description="1 to 200."),
]


def _range_key(request) -> str:
    try:
        return selectors.parse_range(request.query_params.get("range")).key
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.message_dict) from error


class ModelAPIMetricsApi(WorkspaceAPIView):
    """`GET /v0/models/{name}/metrics?range=1h|24h|7d|30d`."""

    model_api_url_kwarg = "name"  # a scoped credential reaches only its model APIs
    required_actions = {"GET": Action.VIEW_MODEL_APIS}

    @operation("getModelMetrics", "usage", RANGE_PARAMETER, response=MODEL_METRICS_SCHEMA)
    def get(self, request, name):
        model_api = model_api_get(workspace=self.workspace, name=name)
        result = selectors.usage_metrics(
            workspace=self.workspace, model_api=model_api, range_key=_range_key(request)
        )
        body = metrics_representation(result)
        body.pop("modelApis", None)
        return Response({"modelApi": model_api.name, **body})


class ModelAPILogsApi(WorkspaceAPIView):
    """`GET /v0/models/{name}/logs`: newest first, `{"data", "meta": {"hasMore",
    "nextCursor"}}`; filters `status=2xx|4xx|5xx`, `caller`, `path`, `since`, `until`
    (ISO 8601), `limit` (≤ 200), `cursor`."""

    model_api_url_kwarg = "name"  # a scoped credential reaches only its model APIs
    required_actions = {"GET": Action.VIEW_MODEL_APIS}

    @operation("listModelLogs", "usage", *LOG_PARAMETERS, response=LOG_PAGE_SCHEMA)
    def get(self, request, name):
        model_api = model_api_get(workspace=self.workspace, name=name)
        records = selectors.usage_records(
            workspace=self.workspace, model_api=model_api, **self._filters(request)
        )
        try:
            page, next_cursor = selectors.log_page(
                records, cursor=request.query_params.get("cursor"), limit=self._limit(request)
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return Response(
            {
                "data": [log_representation(record) for record in page],
                "meta": {"hasMore": bool(next_cursor), "nextCursor": next_cursor},
            }
        )

    @staticmethod
    def _filters(request) -> dict:
        form = LogFilterForm(request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(
                {field: " ".join(errors) for field, errors in form.errors.items()}
            )
        return form.filters()

    @staticmethod
    def _limit(request) -> int:
        raw = request.query_params.get("limit", str(selectors.LOG_PAGE_SIZE))
        try:
            limit = int(raw)
        except ValueError as error:
            raise serializers.ValidationError({"limit": "Must be an integer."}) from error
        if not 1 <= limit <= 200:
            raise serializers.ValidationError({"limit": "Must be between 1 and 200."})
        return limit


class WorkspaceUsageApi(WorkspaceAPIView):
    """`GET /v0/usage?range=`: the workspace's usage, in total and per model API."""

    required_actions = {"GET": Action.VIEW_USAGE}

    @operation(
        "getWorkspaceUsage",
        "usage",
        RANGE_PARAMETER,
        response=WORKSPACE_USAGE_SCHEMA,
        error_statuses=(400, 401, 403),
    )
    def get(self, request):
        result = selectors.usage_metrics(workspace=self.workspace, range_key=_range_key(request))
        return Response({"workspace": self.workspace.name, **metrics_representation(result)})
