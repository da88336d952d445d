"""Pieces of Blaxel's JSON shapes shared by every `/v0` resource."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from workspaces.api.base import WORKSPACE_PARAMETERS

_datetime = serializers.DateTimeField()


def iso_time(value) -> str | None:
    """A datetime as the API writes it (ISO 8601), or None."""
    return _datetime.to_representation(value) if value else None


def stamped_metadata(instance) -> dict:
    """`createdAt`, `updatedAt`, `createdBy`, `updatedBy` of an `ActorStampedModel`."""
    return {
        "createdAt": iso_time(instance.created_at),
        "updatedAt": iso_time(instance.updated_at),
        "createdBy": instance.created_by_label,
        "updatedBy": instance.updated_by_label,
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
