"""Pieces of Blaxel's JSON shapes shared by every `/v0` resource, and of their OpenAPI
documentation: the documented error answers, the shapes of lists and of a resource's
`metadata`, and `operation`, the schema of a workspace endpoint."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from workspaces.api.base import WORKSPACE_PARAMETERS
from workspaces.api.serializers import ErrorSerializer

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


# --- OpenAPI: shapes as raw schemas ---------------------------------------------------------

STRING = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
STRING_MAP = {"type": "object", "additionalProperties": STRING}
ANY_OBJECT = {"type": "object", "additionalProperties": True}


def object_of(required: dict | None = None, optional: dict | None = None) -> dict:
    """A JSON object with `required` properties (name → schema) and `optional` ones."""
    required, optional = required or {}, optional or {}
    schema = {"type": "object", "properties": {**required, **optional}}
    if required:
        schema["required"] = list(required)
    return schema


def array_of(item: dict) -> dict:
    return {"type": "array", "items": item}


def metadata_schema(**extra) -> dict:
    """`resource_metadata`'s shape (+ `extra` required properties)."""
    return object_of(
        {
            "name": STRING,
            "displayName": STRING,
            "labels": STRING_MAP,
            "workspace": STRING,
            **extra,
            "createdAt": NULLABLE_STRING,
            "updatedAt": NULLABLE_STRING,
            "createdBy": NULLABLE_STRING,
            "updatedBy": NULLABLE_STRING,
        }
    )


LIST_META = object_of({"hasMore": BOOLEAN, "nextCursor": STRING, "total": INTEGER})


def list_schema(item: dict) -> dict:
    """A list's answer (`base.list_response`): a plain array, or — from the envelope's
    `Blaxel-Version` on — `{"data": [...], "meta": {...}}`."""
    return {"oneOf": [array_of(item), object_of({"data": array_of(item), "meta": LIST_META})]}


# The errors any workspace endpoint may answer: a bad parameter or body (or no workspace
# named), no or a bad key, the wrong role or an unreachable workspace, a missing object.
COMMON_ERRORS = (400, 401, 403, 404)


def errors(*statuses: int) -> dict:
    """The documented error answers: each status with the JSON error shape."""
    return dict.fromkeys(statuses, ErrorSerializer)


def operation(
    operation_id: str,
    tag: str,
    *parameters,
    response: dict = ANY_OBJECT,
    error_statuses: tuple[int, ...] = COMMON_ERRORS,
    **options,
):
    """The schema of a workspace endpoint: the workspace parameters (+ `parameters`), its
    200 answer's shape (`response`, a raw schema) and its errors (`error_statuses`);
    `options` go to `extend_schema` (e.g. `request`)."""
    return extend_schema(
        operation_id=operation_id,
        tags=[tag],
        parameters=[*WORKSPACE_PARAMETERS, *parameters],
        responses={200: response, **errors(*error_statuses)},
        **options,
    )
