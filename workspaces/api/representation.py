"""Pieces of Blaxel's JSON shapes shared by every `/v0` resource."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from workspaces.api.base import WORKSPACE_PARAMETERS

_datetime = serializers.DateTimeField()


def iso_time(value) -> str | None:
    """A datetime as the API writes it (ISO 8601), or None."""
    return _datetime.to_representation(value) if value else None


def resource_metadata(instance, **extra) -> dict:
    """Blaxel's `metadata` of a named, workspace-owned `ActorStampedModel`: name,
    display name, labels, workspace, who created and changed it and when (null when
    unknown), plus `extra` keys."""
    return {
        "name": instance.name,
        "displayName": instance.display_name or instance.name,
        "labels": getattr(instance, "labels", None) or {},
        "workspace": instance.workspace.name,
        **extra,
        "createdAt": iso_time(instance.created_at),
        "updatedAt": iso_time(instance.updated_at),
        "createdBy": instance.created_by_label or None,
        "updatedBy": instance.updated_by_label or None,
    }


def operation(operation_id: str, tag: str, *parameters, **options):
    """The schema of a workspace endpoint answering a JSON object: the workspace
    parameters (+ `parameters`); `options` go to `extend_schema` (e.g. `request`)."""
    return extend_schema(
        operation_id=operation_id,
        tags=[tag],
        parameters=[*WORKSPACE_PARAMETERS, *parameters],
        responses={200: OpenApiTypes.OBJECT},
        **options,
    )
