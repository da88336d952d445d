"""Reads for model APIs. Every selector takes `workspace=` first (or an object that
already belongs to one); another workspace's model API is the same 404 as a missing one."""

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from workspaces.models import Workspace

from .models import ModelAPI, ModelAPIConnection


def endpoint_url(model_api: ModelAPI) -> str:
    """The model API's public inference endpoint (`{RUN_URL}/{workspace}/models/{name}`)."""
    return f"{settings.RUN_URL}/{model_api.workspace.name}/models/{model_api.name}"


def model_apis_for_workspace(*, workspace: Workspace) -> QuerySet[ModelAPI]:
    """Model APIs with what their representation needs (connections in order, events)."""
    return (
        ModelAPI.objects.for_workspace(workspace)
        .select_related("workspace")
        .prefetch_related(
            Prefetch(
                "connection_links",
                queryset=ModelAPIConnection.objects.select_related("connection").order_by(
                    "position"
                ),
            ),
            "events",
            "policy_links__policy",
        )
    )


def model_api_get(*, workspace: Workspace, name: str) -> ModelAPI:
    model_api = model_apis_for_workspace(workspace=workspace).filter(name=name).first()
    if model_api is None:
        raise Http404(f"No model API named “{name}” in this workspace.")
    return model_api


def model_api_connections(*, model_api: ModelAPI) -> list:
    """The model API's integration connections in order (first serves, then fallbacks)."""
    return [link.connection for link in model_api.connection_links.all()]


def model_api_events(*, model_api: ModelAPI, limit: int | None = None) -> list:
    events = list(model_api.events.all())  # prefetched, oldest first
    return events[-limit:] if limit else events


def model_api_policy_names(*, model_api: ModelAPI) -> list[str]:
    """Names of the policies attached to the model API, in name order."""
    return [link.policy.name for link in model_api.policy_links.all()]
