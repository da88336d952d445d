"""Reads for model APIs. Every selector takes `workspace=` first (or an object that
already belongs to one); another workspace's model API is the same 404 as a missing one."""

from datetime import datetime, time

from django.conf import settings
from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from workspaces.models import Workspace

from .models import ModelAPI, ModelAPIConnection, ModelAPIPolicy, UsageRecord


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
            Prefetch("policy_links", queryset=ModelAPIPolicy.objects.select_related("policy")),
        )
    )


def start_of_today() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def model_apis_with_usage(*, workspace: Workspace) -> QuerySet[ModelAPI]:
    """For the list screen: each model API with `last_call_at` and `calls_today`."""
    return model_apis_for_workspace(workspace=workspace).annotate(
        last_call_at=Max("usage_records__time"),
        calls_today=Count("usage_records", filter=Q(usage_records__time__gte=start_of_today())),
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


def model_api_last_call(*, model_api: ModelAPI) -> UsageRecord | None:
    return (
        UsageRecord.objects.for_workspace(model_api.workspace)
        .filter(model_api=model_api)
        .order_by("-time")
        .first()
    )


def model_api_calls_today(*, model_api: ModelAPI) -> int:
    return (
        UsageRecord.objects.for_workspace(model_api.workspace)
        .filter(model_api=model_api, time__gte=start_of_today())
        .count()
    )


def model_api_policy_names(*, model_api: ModelAPI) -> list[str]:
    """Names of the policies attached to the model API, in name order."""
    return [link.policy.name for link in model_api.policy_links.all()]
