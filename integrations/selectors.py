"""Reads. Every selector of workspace-owned data takes `workspace=` first; another
workspace's connection is the same 404 as a missing one."""

from django.apps import apps
from django.db.models import Count, QuerySet
from django.http import Http404

from workspaces.models import Workspace

from .models import IntegrationConnection
from .providers import PROVIDERS, Provider


def connections_for_workspace(*, workspace: Workspace) -> QuerySet[IntegrationConnection]:
    """The workspace's connections, each annotated with `model_api_count`."""
    return (
        IntegrationConnection.objects.for_workspace(workspace)
        .select_related("workspace", "created_by", "updated_by")
        .annotate(model_api_count=Count("model_api_links__model_api", distinct=True))
    )


def connections_for_provider(
    *, workspace: Workspace, provider_id: str
) -> QuerySet[IntegrationConnection]:
    return connections_for_workspace(workspace=workspace).filter(integration=provider_id)


def connection_get(*, workspace: Workspace, name: str) -> IntegrationConnection:
    connection = connections_for_workspace(workspace=workspace).filter(name=name).first()
    if connection is None:
        raise Http404(f"No integration connection named “{name}” in this workspace.")
    return connection


def model_apis_using_connection(*, connection: IntegrationConnection):
    """The model APIs that route through `connection` (via `ModelAPIConnection` links).
    Reached through Django's app registry: model APIs are built on integrations, not the
    other way round."""
    ModelAPI = apps.get_model("models_api", "ModelAPI")
    return (
        ModelAPI.objects.for_workspace(connection.workspace)
        .filter(connection_links__connection=connection)
        .distinct()
        .order_by("name")
    )


def providers_with_counts(*, workspace: Workspace) -> list[tuple[Provider, int]]:
    """Every registered provider with the number of connections the workspace has."""
    counts = dict(
        IntegrationConnection.objects.for_workspace(workspace)
        .values_list("integration")
        .annotate(count=Count("id"))
        .values_list("integration", "count")
    )
    return [(provider, counts.get(provider.id, 0)) for provider in PROVIDERS.values()]


def provider_get(provider_id: str) -> Provider:
    provider = PROVIDERS.get(provider_id)
    if provider is None:
        raise Http404(f"No provider named “{provider_id}”.")
    return provider
