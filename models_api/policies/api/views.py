"""`GET|POST /v0/policies`, `GET|PUT|DELETE /v0/policies/{name}` (DESIGN.md §8)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from workspaces.api.base import LIST_PARAMETERS, WorkspaceAPIView, list_response
from workspaces.api.representation import list_schema, operation

from .. import selectors, services
from ..models import Policy
from ..permissions import POLICY_ACTIONS
from .serializers import POLICY_SCHEMA, PolicyInput, policy_representation

# The policy types Blaxel's official SDK parses (it knows `flavor`, `location` and
# `maxToken`): one policy of another type in a list makes its `list_policies` fail, so a
# list shows other types only when asked for (`?types=all`, or named).
SDK_POLICY_TYPES = (Policy.Type.MAX_TOKEN,)

TYPES_PARAMETER = OpenApiParameter(
    "types",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="Which policy types to list: `all`, or a comma-separated list "
    f"({', '.join(Policy.Type.values)}). By default only the types Blaxel's SDK parses "
    f"({', '.join(SDK_POLICY_TYPES)}).",
)


def listed_types(requested: str | None) -> list[str]:
    """`?types=` → the policy types a list shows (an unknown type is a 400)."""
    if not requested:
        return list(SDK_POLICY_TYPES)
    if requested == "all":
        return list(Policy.Type.values)
    names = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = [name for name in names if name not in Policy.Type.values]
    if unknown:
        raise serializers.ValidationError(
            {"types": f"Unknown policy type: {', '.join(unknown)}; use all or "
             f"{', '.join(Policy.Type.values)}."}
        )  # fmt: skip
    return names


class PolicyListCreateApi(WorkspaceAPIView):
    required_actions = POLICY_ACTIONS

    @operation(
        "listPolicies",
        "policies",
        *LIST_PARAMETERS,
        TYPES_PARAMETER,
        response=list_schema(POLICY_SCHEMA),
        error_statuses=(400, 401, 403),
    )
    def get(self, request):
        policies = selectors.policies_for_workspace(workspace=self.workspace)
        return list_response(
            request,
            policies.filter(type__in=listed_types(request.query_params.get("types"))),
            policy_representation,
            search_fields=("name", "display_name"),
        )

    @operation(
        "createPolicy",
        "policies",
        request=PolicyInput,
        response=POLICY_SCHEMA,
        error_statuses=(400, 401, 403, 409),
    )
    def post(self, request):
        serializer = PolicyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["metadata"].get("name")
        if not name:
            raise serializers.ValidationError({"metadata": {"name": "This field is required."}})
        policy = services.policy_create(
            workspace=self.workspace,
            name=name,
            actor=self.principal,
            **serializer.service_fields(),
        )
        return Response(policy_representation(policy, model_api_count=0))


class PolicyDetailApi(WorkspaceAPIView):
    required_actions = POLICY_ACTIONS

    def get_policy(self, name: str) -> Policy:
        return selectors.policy_get(workspace=self.workspace, name=name)

    @operation("getPolicy", "policies", response=POLICY_SCHEMA)
    def get(self, request, name):
        return Response(policy_representation(self.get_policy(name)))

    @operation(
        "updatePolicy",
        "policies",
        request=PolicyInput,
        response=POLICY_SCHEMA,
        error_statuses=(400, 401, 403, 404, 409),
    )
    def put(self, request, name):
        policy = self.get_policy(name)
        serializer = PolicyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        sent_name = serializer.validated_data["metadata"].get("name")
        if sent_name and sent_name != name:
            raise serializers.ValidationError(
                {"metadata": {"name": "A policy's name cannot be changed."}}
            )
        policy = services.policy_update(
            policy=policy, actor=self.principal, **serializer.service_fields()
        )
        return Response(policy_representation(policy))

    @operation(
        "deletePolicy",
        "policies",
        response=POLICY_SCHEMA,
        error_statuses=(401, 403, 404, 409),
    )
    def delete(self, request, name):
        policy = self.get_policy(name)
        representation = policy_representation(policy)
        services.policy_delete(policy=policy, actor=self.principal)
        return Response(representation)
