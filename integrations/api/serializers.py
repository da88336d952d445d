"""`/v0/integrations/...` in Blaxel's shapes (DESIGN.md §8). Input serializers only
validate; representations are built by the functions below and never hold a secret
(only its hint).

Read-only fields a client sends back from a GET (`metadata.createdAt`, `status`, ...)
are not declared, so they are ignored.
"""

from rest_framework import serializers

from workspaces.api.representation import (
    ANY_OBJECT,
    BOOLEAN,
    NULLABLE_STRING,
    STRING,
    STRING_MAP,
    array_of,
    iso_time,
    metadata_schema,
    object_of,
    resource_metadata,
)

from ..catalog import CatalogSnapshot
from ..models import IntegrationConnection


def _values() -> serializers.DictField:
    """Config or secret: an object of strings; null or "" means "not set" / "unchanged"."""
    value = serializers.CharField(
        allow_blank=True, allow_null=True, max_length=2000, trim_whitespace=False
    )
    return serializers.DictField(child=value, required=False, allow_null=True)


class MetadataInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    displayName = serializers.CharField(
        max_length=100, required=False, allow_blank=True, allow_null=True
    )


class SpecInputSerializer(serializers.Serializer):
    integration = serializers.CharField(max_length=40, required=False)
    config = _values()
    secret = _values()
    sandbox = serializers.BooleanField(required=False, allow_null=True)


class ConnectionInputSerializer(serializers.Serializer):
    """The body of POST /v0/integrations/connections (`partial=False`: name, integration
    required) and PUT .../{name} (`partial=True`: what is missing stays as it is)."""

    metadata = MetadataInputSerializer(required=False)
    spec = SpecInputSerializer(required=False)

    def validate(self, attrs):
        if self.partial:
            return attrs
        errors = {}
        if not (attrs.get("metadata") or {}).get("name"):
            errors["metadata"] = {"name": "This field is required."}
        if not (attrs.get("spec") or {}).get("integration"):
            errors["spec"] = {"integration": "This field is required."}
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def connection_representation(connection: IntegrationConnection) -> dict:
    return {
        "metadata": resource_metadata(connection),
        "spec": {
            "integration": connection.integration,
            "config": dict(connection.config),
            "secret": connection.masked_secret,
        },
        "status": connection.status,
        "statusMessage": connection.status_message,
        "validatedAt": iso_time(connection.validated_at),
        "pendingKey": pending_key_representation(connection),
    }


def pending_key_representation(connection: IntegrationConnection) -> dict | None:
    """A replacement key being checked (or just refused), by its hint only; None when
    there is none. The key in `spec.secret` is the one serving meanwhile."""
    if not connection.pending_status:
        return None
    return {
        "secret": {connection.provider.primary_secret_field.name: connection.pending_secret_hint},
        "status": connection.pending_status,
        "message": connection.pending_message,
    }


def catalog_representation(snapshot: CatalogSnapshot, models) -> dict:
    """OpenAI's list shape, plus where the list came from."""
    return {
        "object": "list",
        "data": [model.to_openai() for model in models],
        "source": "live" if snapshot.live else "builtin",
        "stale": snapshot.stale,
        "error": snapshot.error or None,
    }


# The shapes above, for the schema.
CONNECTION_SCHEMA = object_of(
    {
        "metadata": metadata_schema(),
        "spec": object_of({"integration": STRING, "config": ANY_OBJECT, "secret": STRING_MAP}),
        "status": STRING,
        "statusMessage": STRING,
        "validatedAt": NULLABLE_STRING,
    }
)
CATALOG_MODEL_SCHEMA = object_of({"id": STRING, "object": {"type": "string", "enum": ["model"]}})
CATALOG_SCHEMA = object_of(
    {
        "object": {"type": "string", "enum": ["list"]},
        "data": array_of(CATALOG_MODEL_SCHEMA),
        "source": {"type": "string", "enum": ["live", "builtin"]},
        "stale": BOOLEAN,
        "error": NULLABLE_STRING,
    }
)
PROVIDER_SCHEMA = object_of(
    {"name": STRING, "displayName": STRING, "description": STRING, "endpoints": ANY_OBJECT}
)
