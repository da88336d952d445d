"""`/v0` endpoints of issue 5: policies in Blaxel's shape, and the usage of a model API or
the whole workspace (metrics, logs).

A policy:

    {"metadata": {"name", "displayName", "labels", "workspace", "createdAt", "updatedAt",
                  "createdBy", "updatedBy"},
     "spec": {"type": "maxToken", "resourceTypes": ["model"],
              "maxTokens": {"granularity": "minute|hour|day|month", "step": 1,
                            "input": 0, "output": 0, "total": 15000}},
     "usage": {"models": 1}}

or, for a rate limit, `"spec": {"type": "rateLimit", "resourceTypes": ["model"],
"rateLimit": {"requestsPerMinute": 60, "perCaller": false}}`. Caps of 0 are not checked.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from workspaces.api.base import (
    LIST_PARAMETERS,
    WORKSPACE_PARAMETERS,
    WorkspaceAPIView,
    list_response,
)
from workspaces.permissions import Action

from .. import metrics, policies
from ..observability_forms import LogFilterForm
from ..policy_models import Policy
from ..selectors import model_api_get

# --- serializers ---------------------------------------------------------------------------


class PolicyMetadataInput(serializers.Serializer):
    name = serializers.RegexField(
        r"^[a-z0-9]([a-z0-9-]{0,47}[a-z0-9])?$",
        max_length=49,
        required=False,
        error_messages={
            "invalid": "Use lowercase letters, digits and hyphens (at most 49), starting and "
            "ending with a letter or digit."
        },
    )
    displayName = serializers.CharField(max_length=63, required=False, allow_blank=True)
    labels = serializers.DictField(child=serializers.CharField(), required=False)


class MaxTokensInput(serializers.Serializer):
    granularity = serializers.ChoiceField(choices=Policy.Granularity.values)
    step = serializers.IntegerField(min_value=1, required=False, default=1)
    input = serializers.IntegerField(min_value=0, required=False, default=0)
    output = serializers.IntegerField(min_value=0, required=False, default=0)
    total = serializers.IntegerField(min_value=0, required=False, default=0)

    def validate(self, attrs):
        if not (attrs["input"] or attrs["output"] or attrs["total"]):
            raise serializers.ValidationError(
                {"total": "Set at least one cap (input, output or total) above 0."}
            )
        return attrs


class RateLimitInput(serializers.Serializer):
    requestsPerMinute = serializers.IntegerField(min_value=1)
    perCaller = serializers.BooleanField(required=False, default=False)


class PolicySpecInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=Policy.Type.values)
    maxTokens = MaxTokensInput(required=False)
    rateLimit = RateLimitInput(required=False)
    resourceTypes = serializers.ListField(child=serializers.CharField(), required=False)

    def validate(self, attrs):
        if attrs["type"] == Policy.Type.MAX_TOKEN and "maxTokens" not in attrs:
            raise serializers.ValidationError({"maxTokens": "A maxToken policy needs maxTokens."})
        if attrs["type"] == Policy.Type.RATE_LIMIT and "rateLimit" not in attrs:
            raise serializers.ValidationError({"rateLimit": "A rateLimit policy needs rateLimit."})
        unsupported = set(attrs.get("resourceTypes") or ["model"]) - {"model"}
        if unsupported:
            raise serializers.ValidationError(
                {"resourceTypes": 'Policies apply to model APIs only (resourceTypes: ["model"]).'}
            )
        return attrs


class PolicyInput(serializers.Serializer):
    """What a client may write. Read-only fields sent back from a GET (`usage`, dates,
    `workspace`, ...) are ignored."""

    metadata = PolicyMetadataInput()
    spec = PolicySpecInput()

    def service_fields(self) -> dict:
        metadata, spec = self.validated_data["metadata"], self.validated_data["spec"]
        fields = {"type": spec["type"]}
        if "displayName" in metadata:
            fields["display_name"] = metadata["displayName"]
        if "labels" in metadata:
            fields["labels"] = metadata["labels"]
        if spec["type"] == Policy.Type.MAX_TOKEN:
            caps = spec["maxTokens"]
            fields.update(
                granularity=caps["granularity"],
                step=caps["step"],
                max_input_tokens=caps["input"],
                max_output_tokens=caps["output"],
                max_total_tokens=caps["total"],
            )
        else:
            fields.update(
                requests_per_minute=spec["rateLimit"]["requestsPerMinute"],
                per_caller=spec["rateLimit"]["perCaller"],
            )
        return fields


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def policy_representation(policy: Policy, model_api_count: int | None = None) -> dict:
    if model_api_count is None:
        model_api_count = getattr(policy, "model_api_count", None)
    if model_api_count is None:
        model_api_count = policy.model_api_links.count()
    spec = {"type": policy.type, "resourceTypes": ["model"]}
    if policy.type == Policy.Type.MAX_TOKEN:
        spec["maxTokens"] = {
            "granularity": policy.granularity,
            "step": policy.step,
            "input": policy.max_input_tokens,
            "output": policy.max_output_tokens,
            "total": policy.max_total_tokens,
        }
    else:
        spec["rateLimit"] = {
            "requestsPerMinute": policy.requests_per_minute,
            "perCaller": policy.per_caller,
        }
    return {
        "metadata": {
            "name": policy.name,
            "displayName": policy.display_name or policy.name,
            "labels": policy.labels or {},
            "workspace": policy.workspace.name,
            "createdAt": _iso(policy.created_at),
            "updatedAt": _iso(policy.updated_at),
            "createdBy": policy.created_by_label,
            "updatedBy": policy.updated_by_label,
        },
        "spec": spec,
        "usage": {"models": model_api_count},
    }


def _metrics_representation(result: dict) -> dict:
    def jsonable(value):
        if isinstance(value, dict):
            return {key: jsonable(item) for key, item in value.items()}
        if isinstance(value, list):
            return [jsonable(item) for item in value]
        if hasattr(value, "isoformat"):
            return _iso(value)
        return value

    return jsonable(result)


def log_representation(record) -> dict:
    return {
        "requestId": record.request_id,
        "time": _iso(record.time),
        "caller": record.caller,
        "apiKeyPrefix": record.api_key_prefix,
        "path": record.path,
        "status": record.status_code,
        "latencyMs": record.latency_ms,
        "ttfbMs": record.ttfb_ms,
        "tokens": {
            "input": record.input_tokens,
            "output": record.output_tokens,
            "total": record.total_tokens,
        },
        "streamed": record.streamed,
        "error": record.error_type or None,
        "connection": record.connection_name or None,
    }


# --- views ----------------------------------------------------------------------------------


def operation(operation_id: str, tag: str, *parameters, **options):
    """The schema of one of these endpoints: the workspace parameters (+ `parameters`),
    a JSON object as the answer; `options` go to `extend_schema` (e.g. `request`)."""
    return extend_schema(
        operation_id=operation_id,
        tags=[tag],
        parameters=[*WORKSPACE_PARAMETERS, *parameters],
        responses={200: OpenApiTypes.OBJECT},
        **options,
    )


POLICY_ACTIONS = {
    "GET": Action.VIEW_POLICIES,
    "HEAD": Action.VIEW_POLICIES,
    "OPTIONS": Action.VIEW_POLICIES,
    "POST": Action.MANAGE_POLICIES,
    "PUT": Action.MANAGE_POLICIES,
    "DELETE": Action.MANAGE_POLICIES,
}


class PolicyListCreateApi(WorkspaceAPIView):
    required_actions = POLICY_ACTIONS

    @operation("listPolicies", "policies", *LIST_PARAMETERS)
    def get(self, request):
        return list_response(
            request,
            policies.policies_for_workspace(workspace=self.workspace),
            policy_representation,
            search_fields=("name", "display_name"),
        )

    @operation("createPolicy", "policies", request=PolicyInput)
    def post(self, request):
        serializer = PolicyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["metadata"].get("name")
        if not name:
            raise serializers.ValidationError({"metadata": {"name": "This field is required."}})
        policy = policies.policy_create(
            workspace=self.workspace,
            name=name,
            actor=self.principal,
            **serializer.service_fields(),
        )
        return Response(policy_representation(policy, model_api_count=0))


class PolicyDetailApi(WorkspaceAPIView):
    required_actions = POLICY_ACTIONS

    def get_policy(self, name: str) -> Policy:
        return policies.policy_get(workspace=self.workspace, name=name)

    @operation("getPolicy", "policies")
    def get(self, request, name):
        return Response(policy_representation(self.get_policy(name)))

    @operation("updatePolicy", "policies", request=PolicyInput)
    def put(self, request, name):
        policy = self.get_policy(name)
        serializer = PolicyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        sent_name = serializer.validated_data["metadata"].get("name")
        if sent_name and sent_name != name:
            raise serializers.ValidationError(
                {"metadata": {"name": "A policy's name cannot be changed."}}
            )
        policy = policies.policy_update(
            policy=policy, actor=self.principal, **serializer.service_fields()
        )
        return Response(policy_representation(policy))

    @operation("deletePolicy", "policies")
    def delete(self, request, name):
        policy = self.get_policy(name)
        representation = policy_representation(policy)
        policies.policy_delete(policy=policy, actor=self.principal)
        return Response(representation)


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
        return metrics.parse_range(request.query_params.get("range")).key
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.message_dict) from error


class ModelAPIMetricsApi(WorkspaceAPIView):
    """`GET /v0/models/{name}/metrics?range=1h|24h|7d|30d`."""

    required_actions = {"GET": Action.VIEW_MODEL_APIS}

    @operation("getModelMetrics", "observability", RANGE_PARAMETER)
    def get(self, request, name):
        model_api = model_api_get(workspace=self.workspace, name=name)
        result = metrics.usage_metrics(
            workspace=self.workspace, model_api=model_api, range_key=_range_key(request)
        )
        body = _metrics_representation(result)
        body.pop("modelApis", None)
        return Response({"modelApi": model_api.name, **body})


class ModelAPILogsApi(WorkspaceAPIView):
    """`GET /v0/models/{name}/logs`: newest first, `{"data", "meta": {"hasMore",
    "nextCursor"}}`; filters `status=2xx|4xx|5xx`, `caller`, `path`, `since`, `until`
    (ISO 8601), `limit` (≤ 200), `cursor`."""

    required_actions = {"GET": Action.VIEW_MODEL_APIS}

    @operation("listModelLogs", "observability", *LOG_PARAMETERS)
    def get(self, request, name):
        model_api = model_api_get(workspace=self.workspace, name=name)
        form = LogFilterForm(request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(
                {field: " ".join(errors) for field, errors in form.errors.items()}
            )
        limit = self._limit(request)
        records = metrics.usage_records(
            workspace=self.workspace, model_api=model_api, **form.filters()
        )
        try:
            page, next_cursor = metrics.log_page(
                records, cursor=request.query_params.get("cursor"), limit=limit
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
    def _limit(request) -> int:
        raw = request.query_params.get("limit", str(metrics.LOG_PAGE_SIZE))
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

    @operation("getWorkspaceUsage", "observability", RANGE_PARAMETER)
    def get(self, request):
        result = metrics.usage_metrics(workspace=self.workspace, range_key=_range_key(request))
        return Response({"workspace": self.workspace.name, **_metrics_representation(result)})
