"""`/v0/integrations/...` (DESIGN.md §8): connections (masked), their model catalog and
the providers' descriptions. Members read; admins write (`permissions.API_ACTIONS`)."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.response import Response

from workspaces.api.base import WorkspaceAPIView
from workspaces.api.representation import array_of, operation

from .. import selectors, services
from ..catalog import catalog_snapshot
from ..catalog_search import rank_models
from ..models import IntegrationConnection
from ..permissions import API_ACTIONS
from ..providers import get_provider
from .serializers import (
    CATALOG_MODEL_SCHEMA,
    CATALOG_SCHEMA,
    CONNECTION_SCHEMA,
    PROVIDER_SCHEMA,
    ConnectionInputSerializer,
    catalog_representation,
    connection_representation,
)

MAX_MODELS_LIMIT = 1000
TRUE = {"1", "true", "yes"}


def _api_field(provider, field: str) -> str:
    """Where a service's error field sits in Blaxel's JSON."""
    fixed = {
        "name": "metadata.name",
        "display_name": "metadata.displayName",
        "integration": "spec.integration",
        "config": "spec.config",
        "secret": "spec.secret",
    }
    if field in fixed:
        return fixed[field]
    if provider is not None and provider.secret_field(field) is not None:
        return f"spec.secret.{field}"
    if provider is not None and provider.config_field(field) is not None:
        return f"spec.config.{field}"
    return f"spec.config.{field}"


def _as_api_validation_error(error: DjangoValidationError, provider) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(
            {
                _api_field(provider, field): " ".join(
                    message for item in errors for message in item.messages
                )
                for field, errors in error.error_dict.items()
            }
        )
    return exceptions.ValidationError({"non_field_errors": " ".join(error.messages)})


@contextmanager
def _api_field_errors(provider):
    """A service's `ValidationError` becomes a 400 naming each field where it sits in
    Blaxel's JSON (`spec.secret.apiKey`, ...)."""
    try:
        yield
    except DjangoValidationError as error:
        raise _as_api_validation_error(error, provider) from error


def _connection_input(request, *, partial: bool) -> tuple[dict, dict]:
    """The body's `metadata` and `spec`, validated (a PUT may leave parts out)."""
    serializer = ConnectionInputSerializer(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return data.get("metadata") or {}, data.get("spec") or {}


def _refuse_fixed_field_changes(connection: IntegrationConnection, metadata, spec) -> None:
    """A PUT may send the name and the provider back from a GET, never change them."""
    if metadata.get("name") not in (None, connection.name):
        raise exceptions.ValidationError(
            {"metadata.name": "The name of a connection cannot be changed."}
        )
    if spec.get("integration") not in (None, connection.integration):
        raise exceptions.ValidationError(
            {"spec.integration": "The provider of a connection cannot be changed."}
        )


class ConnectionListCreateApi(WorkspaceAPIView):
    required_actions = API_ACTIONS

    @operation(
        "listIntegrationConnections",
        "integrations",
        response=array_of(CONNECTION_SCHEMA),
        error_statuses=(400, 401, 403),
    )
    def get(self, request):
        # Always a plain JSON array (Blaxel's clients parse it so, whatever the version).
        connections = selectors.connections_for_workspace(workspace=self.workspace)
        return Response([connection_representation(item) for item in connections])

    @operation(
        "createIntegrationConnection",
        "integrations",
        request=ConnectionInputSerializer,
        response=CONNECTION_SCHEMA,
        error_statuses=(400, 401, 403, 409),
    )
    def post(self, request):
        metadata, spec = _connection_input(request, partial=False)
        with _api_field_errors(get_provider(spec["integration"])):
            connection = services.integration_connection_create(
                workspace=self.workspace,
                name=metadata["name"],
                display_name=metadata.get("displayName") or "",
                integration=spec["integration"],
                config=spec.get("config") or {},
                secret=spec.get("secret") or {},
                actor=self.principal,
            )
        return Response(self._representation(connection.name))

    def _representation(self, name: str) -> dict:
        connection = selectors.connection_get(workspace=self.workspace, name=name)
        return connection_representation(connection)


class ConnectionDetailApi(WorkspaceAPIView):
    required_actions = API_ACTIONS

    def _connection(self, name: str) -> IntegrationConnection:
        return selectors.connection_get(workspace=self.workspace, name=name)

    @operation("getIntegrationConnection", "integrations", response=CONNECTION_SCHEMA)
    def get(self, request, name: str):
        return Response(connection_representation(self._connection(name)))

    @operation(
        "updateIntegrationConnection",
        "integrations",
        request=ConnectionInputSerializer,
        response=CONNECTION_SCHEMA,
        error_statuses=(400, 401, 403, 404, 409),
    )
    def put(self, request, name: str):
        connection = self._connection(name)
        metadata, spec = _connection_input(request, partial=True)
        _refuse_fixed_field_changes(connection, metadata, spec)
        with _api_field_errors(connection.provider):
            services.integration_connection_update(
                connection=connection,
                actor=self.principal,
                display_name=metadata.get("displayName"),
                # Present (even empty) replaces the config; absent leaves it as it is.
                config=(spec.get("config") or {}) if "config" in spec else None,
                secret=spec.get("secret"),
            )
        return Response(connection_representation(self._connection(name)))

    @operation(
        "deleteIntegrationConnection",
        "integrations",
        response=CONNECTION_SCHEMA,
        error_statuses=(401, 403, 404, 409),
    )
    def delete(self, request, name: str):
        connection = self._connection(name)
        representation = connection_representation(connection)
        services.integration_connection_delete(connection=connection, actor=self.principal)
        return Response(representation)


def _limit(request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return MAX_MODELS_LIMIT
    try:
        limit = int(raw)
    except ValueError as error:
        raise exceptions.ValidationError({"limit": "Must be an integer."}) from error
    if not 1 <= limit <= MAX_MODELS_LIMIT:
        raise exceptions.ValidationError({"limit": f"Must be between 1 and {MAX_MODELS_LIMIT}."})
    return limit


class ConnectionModelsApi(WorkspaceAPIView):
    required_actions = API_ACTIONS

    @operation(
        "listIntegrationConnectionModels",
        "integrations",
        OpenApiParameter("q", str, description="Case-insensitive substring of the id."),
        OpenApiParameter("limit", int, description=f"1 to {MAX_MODELS_LIMIT}."),
        OpenApiParameter("refresh", bool, description="Ask the provider now."),
        response=CATALOG_SCHEMA,
    )
    def get(self, request, name: str):
        connection = selectors.connection_get(workspace=self.workspace, name=name)
        refresh = request.query_params.get("refresh", "").lower() in TRUE
        snapshot = catalog_snapshot(connection, refresh=refresh)
        models = rank_models(snapshot.models, request.query_params.get("q", ""), _limit(request))
        return Response(catalog_representation(snapshot, models))


class ConnectionModelApi(WorkspaceAPIView):
    required_actions = API_ACTIONS

    @operation("getIntegrationConnectionModel", "integrations", response=CATALOG_MODEL_SCHEMA)
    def get(self, request, name: str, model_id: str):
        connection = selectors.connection_get(workspace=self.workspace, name=name)
        model = catalog_snapshot(connection).by_id.get(model_id)
        if model is None:
            raise Http404(f"No model “{model_id}” in the catalog of “{name}”.")
        return Response(model.to_openai())


class ProviderApi(WorkspaceAPIView):
    required_actions = API_ACTIONS

    @operation("getIntegration", "integrations", response=PROVIDER_SCHEMA)
    def get(self, request, provider: str):
        return Response(selectors.provider_get(provider).describe())
