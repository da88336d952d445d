"""`GET|POST /v0/models`, `GET|PUT|DELETE /v0/models/{name}` (DESIGN.md §8)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.response import Response

from integrations.selectors import connections_for_workspace
from workspaces.api.base import LIST_PARAMETERS, WorkspaceAPIView, list_response
from workspaces.api.representation import list_schema, operation
from workspaces.permissions import Action, role_allows

from .. import selectors, services
from ..models import ModelAPI
from ..permissions import MODEL_API_ACTIONS
from ..policies.permissions import DELETE_WITH_POLICIES_MESSAGE, model_api_delete_action
from .serializers import MODEL_SCHEMA, ModelInputSerializer, model_api_representation

# Service field → where that value sits in Blaxel's JSON, for error messages.
API_FIELD_NAMES = {
    "name": "metadata.name",
    "display_name": "metadata.displayName",
    "labels": "metadata.labels",
    "connections": "spec.integrationConnections",
    "model": "spec.runtime.model",
    "runtime_model": "spec.runtime.model",
    "runtime_type": "spec.runtime.type",
    "enabled": "spec.enabled",
    "policies": "spec.policies",
}


def _as_api_validation_error(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(
            {
                API_FIELD_NAMES.get(field, field): " ".join(
                    message for item in errors for message in item.messages
                )
                for field, errors in error.error_dict.items()
            }
        )
    return exceptions.ValidationError({"non_field_errors": " ".join(error.messages)})


def _resolve_connections(workspace, names: list[str]) -> list:
    """Connection names → connections of this workspace, in the given order. An unknown
    name (or another workspace's) is a 400 on the field, not a 404 (DESIGN.md §8)."""
    found = {
        connection.name: connection
        for connection in connections_for_workspace(workspace=workspace).filter(name__in=names)
    }
    missing = [name for name in names if name not in found]
    if missing:
        raise exceptions.ValidationError(
            {
                "spec.integrationConnections": "No integration connection named "
                + ", ".join(f"“{name}”" for name in missing)
                + " in this workspace."
            }
        )
    return [found[name] for name in names]


def _check_runtime_type(runtime_type: str | None, provider_id: str) -> None:
    if runtime_type and runtime_type != provider_id:
        raise exceptions.ValidationError(
            {
                "spec.runtime.type": f"The connections are {provider_id} connections; "
                f"runtime.type must be “{provider_id}” (or left out)."
            }
        )


def _policies_to_set(view, requested: list[str] | None, attached: list[str]) -> list[str] | None:
    """`spec.policies`: None when it leaves the attached policies as they are (absent, or
    sent back as a GET returns it); else the names to attach, once the caller is allowed
    to (admins only: a member must not be able to lift a cap)."""
    if requested is None or sorted(set(requested)) == sorted(attached):
        return None
    view.check_action(Action.MANAGE_POLICIES)
    return list(requested)


class ModelListCreateApi(WorkspaceAPIView):
    """`GET /v0/models`: the workspace's model APIs (plain array, or the paginated
    envelope from `Blaxel-Version: 2026-04-28` on; `q` searches name, display name and
    model; `status` filters). `POST /v0/models`: create one; the deploy check is queued
    and the answer (200) is the new model API, usually still `DEPLOYING`."""

    required_actions = MODEL_API_ACTIONS

    @operation(
        "listModels",
        "models",
        *LIST_PARAMETERS,
        OpenApiParameter(
            "status",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            description="Only model APIs with this status (DEPLOYING, DEPLOYED, ...).",
        ),
        response=list_schema(MODEL_SCHEMA),
        error_statuses=(400, 401, 403),
    )
    def get(self, request):
        model_apis = selectors.model_apis_for_workspace(workspace=self.workspace)
        status = request.query_params.get("status")
        if status:
            model_apis = model_apis.filter(status=status.upper())
        return list_response(
            request,
            model_apis,
            model_api_representation,
            search_fields=("name", "display_name", "runtime_model"),
        )

    @operation(
        "createModel",
        "models",
        request=ModelInputSerializer,
        response=MODEL_SCHEMA,
        error_statuses=(400, 401, 403, 409),
    )
    def post(self, request):
        serializer = ModelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        arguments = self._create_arguments(serializer.validated_data)
        try:
            model_api = services.model_api_create(
                workspace=self.workspace, actor=self.principal, **arguments
            )
        except DjangoValidationError as error:
            raise _as_api_validation_error(error) from error
        return Response(self._representation(model_api.name))

    def _create_arguments(self, validated: dict) -> dict:
        """A POST's body → `model_api_create`'s keyword arguments."""
        metadata, spec = validated["metadata"], validated["spec"]
        runtime = spec.get("runtime") or {}
        policy_names = _policies_to_set(self, spec.get("policies"), attached=[])
        connections = _resolve_connections(self.workspace, spec["integrationConnections"])
        _check_runtime_type(runtime.get("type"), connections[0].integration)
        return {
            "name": metadata["name"],
            "display_name": metadata.get("displayName") or "",
            "labels": metadata.get("labels") or {},
            "enabled": spec.get("enabled", True),
            "connections": connections,
            "model": runtime["model"],
            "policy_names": policy_names,
        }

    def _representation(self, name: str) -> dict:
        return model_api_representation(
            selectors.model_api_get(workspace=self.workspace, name=name)
        )


class ModelDetailApi(WorkspaceAPIView):
    """`GET|PUT|PATCH|DELETE /v0/models/{name}`. PUT (and PATCH, the same) changes what
    it is given (display name, labels, enabled, connections in order, model) and ignores
    the read-only fields a GET returns; DELETE answers the deleted model API. Another
    workspace's model API is a 404."""

    model_api_url_kwarg = "name"  # a scoped credential reaches only its model APIs
    required_actions = MODEL_API_ACTIONS

    def _model_api(self, name: str) -> ModelAPI:
        return selectors.model_api_get(workspace=self.workspace, name=name)

    @operation("getModel", "models", response=MODEL_SCHEMA)
    def get(self, request, name: str):
        return Response(model_api_representation(self._model_api(name)))

    @operation(
        "updateModel",
        "models",
        request=ModelInputSerializer,
        response=MODEL_SCHEMA,
        error_statuses=(400, 401, 403, 404, 409),
    )
    def put(self, request, name: str):
        model_api = self._model_api(name)
        serializer = ModelInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = self._changes(model_api, serializer.validated_data)
        try:
            services.model_api_update(model_api=model_api, actor=self.principal, **changes)
        except DjangoValidationError as error:
            raise _as_api_validation_error(error) from error
        return Response(model_api_representation(self._model_api(name)))

    @operation(
        "patchModel",
        "models",
        request=ModelInputSerializer,
        response=MODEL_SCHEMA,
        error_statuses=(400, 401, 403, 404, 409),
    )
    def patch(self, request, name: str):
        """Like PUT: what the body leaves out stays as it is (e.g. only
        `spec.integrationConnections`, in order, to change the connections)."""
        return self.put(request, name)

    def _changes(self, model_api: ModelAPI, validated: dict) -> dict:
        """A PUT's body → `model_api_update`'s keyword arguments (None = unchanged)."""
        metadata = validated.get("metadata") or {}
        spec = validated.get("spec") or {}
        runtime = spec.get("runtime") or {}
        if metadata.get("name") not in (None, model_api.name):
            raise exceptions.ValidationError(
                {"metadata.name": "The name of a model API cannot be changed."}
            )
        attached = selectors.model_api_policy_names(model_api=model_api)
        connections = None
        if spec.get("integrationConnections"):
            connections = _resolve_connections(self.workspace, spec["integrationConnections"])
        provider_id = connections[0].integration if connections else model_api.runtime_type
        _check_runtime_type(runtime.get("type"), provider_id)
        return {
            "display_name": metadata.get("displayName"),
            # Present but null clears the labels; absent leaves them as they are.
            "labels": (metadata.get("labels") or {}) if "labels" in metadata else None,
            "enabled": spec.get("enabled"),
            "connections": connections,
            "model": runtime.get("model"),
            "policy_names": _policies_to_set(self, spec.get("policies"), attached),
        }

    @operation("deleteModel", "models", response=MODEL_SCHEMA)
    def delete(self, request, name: str):
        model_api = self._model_api(name)
        if not role_allows(self.role, model_api_delete_action(model_api)):
            raise exceptions.PermissionDenied(DELETE_WITH_POLICIES_MESSAGE)
        representation = model_api_representation(model_api)
        services.model_api_delete(model_api=model_api, actor=self.principal)
        return Response(representation)
