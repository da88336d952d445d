"""`/v0/models` in Blaxel's shape (DESIGN.md §8). Input serializers only validate; the
representation is built by `model_api_representation`.

Read-only fields a client sends back from a GET (`status`, `events`, `metadata.url`,
`metadata.createdAt`, `spec.flavors`, ...) are not declared here, so they are ignored.
"""

from rest_framework import serializers

from integrations.providers import PROVIDERS
from workspaces.api.representation import (
    BOOLEAN,
    NULLABLE_STRING,
    STRING,
    array_of,
    iso_time,
    metadata_schema,
    object_of,
    resource_metadata,
)

from .. import selectors
from ..models import ModelAPI


class ModelMetadataInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    displayName = serializers.CharField(
        max_length=100, required=False, allow_blank=True, allow_null=True
    )
    labels = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=255),
        required=False,
        allow_null=True,
        allow_empty=True,
    )


class ModelRuntimeInputSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=40, required=False, allow_blank=True)
    model = serializers.CharField(max_length=200, required=False)


class ModelSpecInputSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    integrationConnections = serializers.ListField(
        child=serializers.CharField(max_length=49), required=False, allow_empty=False
    )
    runtime = ModelRuntimeInputSerializer(required=False)
    policies = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, allow_null=True
    )

    def validate_runtime(self, value):
        runtime_type = value.get("type")
        if runtime_type and runtime_type not in PROVIDERS:
            raise serializers.ValidationError(
                {"type": f"Unknown provider “{runtime_type}”; one of: {', '.join(PROVIDERS)}."}
            )
        return value


class ModelInputSerializer(serializers.Serializer):
    """The body of POST /v0/models (`partial=False`) and PUT /v0/models/{name}
    (`partial=True`: what is missing stays as it is)."""

    metadata = ModelMetadataInputSerializer()
    spec = ModelSpecInputSerializer()

    def validate(self, attrs):
        if self.partial:
            return attrs
        metadata, spec = attrs.get("metadata") or {}, attrs.get("spec") or {}
        errors = {}
        if not metadata.get("name"):
            errors["metadata"] = {"name": "This field is required."}
        spec_errors = {}
        if not spec.get("integrationConnections"):
            spec_errors["integrationConnections"] = "Name at least one integration connection."
        if not (spec.get("runtime") or {}).get("model"):
            spec_errors["runtime"] = {"model": "This field is required."}
        if spec_errors:
            errors["spec"] = spec_errors
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def model_api_representation(model_api: ModelAPI) -> dict:
    """A model API as Blaxel's `Model` (expects `selectors.model_apis_for_workspace`'s
    prefetching)."""
    connections = selectors.model_api_connections(model_api=model_api)
    return {
        "metadata": resource_metadata(model_api, url=selectors.endpoint_url(model_api)),
        "spec": {
            "enabled": model_api.enabled,
            "integrationConnections": [connection.name for connection in connections],
            "runtime": {"type": model_api.runtime_type, "model": model_api.runtime_model},
            "policies": selectors.model_api_policy_names(model_api=model_api),
        },
        "status": model_api.status,
        "events": [
            {
                "type": event.type,
                "status": event.status,
                "message": event.message,
                "time": iso_time(event.time),
            }
            for event in selectors.model_api_events(model_api=model_api)
        ],
    }


# `model_api_representation`'s shape, for the schema.
MODEL_SCHEMA = object_of(
    {
        "metadata": metadata_schema(url=STRING),
        "spec": object_of(
            {
                "enabled": BOOLEAN,
                "integrationConnections": array_of(STRING),
                "runtime": object_of({"type": STRING, "model": STRING}),
                "policies": array_of(STRING),
            }
        ),
        "status": {"type": "string", "enum": [status.value for status in ModelAPI.Status]},
        "events": array_of(
            object_of(
                {"type": STRING, "status": STRING, "message": STRING, "time": NULLABLE_STRING}
            )
        ),
    }
)
