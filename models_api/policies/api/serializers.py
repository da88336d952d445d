"""Policies in Blaxel's shape (`/v0/policies`).

A policy:

    {"metadata": {"name", "displayName", "labels", "workspace", "createdAt", "updatedAt",
                  "createdBy", "updatedBy"},
     "spec": {"type": "maxToken", "resourceTypes": ["model"], "workspaceDefault": false,
              "maxTokens": {"granularity": "minute|hour|day|month", "step": 1,
                            "input": 0, "output": 0, "total": 15000}},
     "usage": {"models": 1}}

or, for a rate limit, `"spec": {"type": "rateLimit", "resourceTypes": ["model"],
"rateLimit": {"requestsPerMinute": 60, "perCaller": false}}`. Caps of 0 are not checked.
A workspace default (`spec.workspaceDefault`) applies to every model API of the
workspace, those created later included.
"""

from rest_framework import serializers

from workspaces.api.representation import (
    BOOLEAN,
    INTEGER,
    STRING,
    array_of,
    metadata_schema,
    object_of,
    resource_metadata,
)

from ..models import Policy


class PolicyMetadataInput(serializers.Serializer):
    name = serializers.RegexField(
        r"^[a-z0-9]([a-z0-9-]{0,47}[a-z0-9])?$",
        max_length=49,
        required=False,
        error_messages={
            "invalid": "Use lowercase letters, digits and hyphens (at most 49), starting and "
            "ending with a letter or digit."
        },
    )
    displayName = serializers.CharField(max_length=63, required=False, allow_blank=True)
    labels = serializers.DictField(child=serializers.CharField(), required=False)


class MaxTokensInput(serializers.Serializer):
    granularity = serializers.ChoiceField(choices=Policy.Granularity.values)
    step = serializers.IntegerField(min_value=1, required=False, default=1)
    input = serializers.IntegerField(min_value=0, required=False, default=0)
    output = serializers.IntegerField(min_value=0, required=False, default=0)
    total = serializers.IntegerField(min_value=0, required=False, default=0)

    def validate(self, attrs):
        if not (attrs["input"] or attrs["output"] or attrs["total"]):
            raise serializers.ValidationError(
                {"total": "Set at least one cap (input, output or total) above 0."}
            )
        return attrs


class RateLimitInput(serializers.Serializer):
    requestsPerMinute = serializers.IntegerField(min_value=1)
    perCaller = serializers.BooleanField(required=False, default=False)


class PolicySpecInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=Policy.Type.values)
    maxTokens = MaxTokensInput(required=False)
    rateLimit = RateLimitInput(required=False)
    resourceTypes = serializers.ListField(child=serializers.CharField(), required=False)
    workspaceDefault = serializers.BooleanField(
        required=False,
        help_text="Applies to every model API of the workspace, those created later too.",
    )

    def validate(self, attrs):
        if attrs["type"] == Policy.Type.MAX_TOKEN and "maxTokens" not in attrs:
            raise serializers.ValidationError({"maxTokens": "A maxToken policy needs maxTokens."})
        if attrs["type"] == Policy.Type.RATE_LIMIT and "rateLimit" not in attrs:
            raise serializers.ValidationError({"rateLimit": "A rateLimit policy needs rateLimit."})
        unsupported = set(attrs.get("resourceTypes") or ["model"]) - {"model"}
        if unsupported:
            raise serializers.ValidationError(
                {"resourceTypes": 'Policies apply to model APIs only (resourceTypes: ["model"]).'}
            )
        return attrs


class PolicyInput(serializers.Serializer):
    """What a client may write. Read-only fields sent back from a GET (`usage`, dates,
    `workspace`, ...) are ignored."""

    metadata = PolicyMetadataInput()
    spec = PolicySpecInput()

    def service_fields(self) -> dict:
        metadata, spec = self.validated_data["metadata"], self.validated_data["spec"]
        fields = {"type": spec["type"]}
        if "workspaceDefault" in spec:
            fields["is_workspace_default"] = spec["workspaceDefault"]
        if "displayName" in metadata:
            fields["display_name"] = metadata["displayName"]
        if "labels" in metadata:
            fields["labels"] = metadata["labels"]
        if spec["type"] == Policy.Type.MAX_TOKEN:
            caps = spec["maxTokens"]
            fields.update(
                granularity=caps["granularity"],
                step=caps["step"],
                max_input_tokens=caps["input"],
                max_output_tokens=caps["output"],
                max_total_tokens=caps["total"],
            )
        else:
            fields.update(
                requests_per_minute=spec["rateLimit"]["requestsPerMinute"],
                per_caller=spec["rateLimit"]["perCaller"],
            )
        return fields


def policy_representation(policy: Policy, model_api_count: int | None = None) -> dict:
    if model_api_count is None:
        model_api_count = getattr(policy, "model_api_count", None)
    if model_api_count is None:
        model_api_count = policy.model_api_links.count()
    spec = {
        "type": policy.type,
        "resourceTypes": ["model"],
        "workspaceDefault": policy.is_workspace_default,
    }
    if policy.type == Policy.Type.MAX_TOKEN:
        spec["maxTokens"] = {
            "granularity": policy.granularity,
            "step": policy.step,
            "input": policy.max_input_tokens,
            "output": policy.max_output_tokens,
            "total": policy.max_total_tokens,
        }
    else:
        spec["rateLimit"] = {
            "requestsPerMinute": policy.requests_per_minute,
            "perCaller": policy.per_caller,
        }
    return {
        "metadata": resource_metadata(policy),
        "spec": spec,
        "usage": {"models": model_api_count},
    }


# `policy_representation`'s shape, for the schema.
POLICY_SCHEMA = object_of(
    {
        "metadata": metadata_schema(),
        "spec": object_of(
            {
                "type": {"type": "string", "enum": Policy.Type.values},
                "resourceTypes": array_of(STRING),
                "workspaceDefault": BOOLEAN,
            },
            {
                "maxTokens": object_of(
                    {
                        "granularity": {"type": "string", "enum": Policy.Granularity.values},
                        "step": INTEGER,
                        "input": INTEGER,
                        "output": INTEGER,
                        "total": INTEGER,
                    }
                ),
                "rateLimit": object_of({"requestsPerMinute": INTEGER, "perCaller": BOOLEAN}),
            },
        ),
        "usage": object_of({"models": INTEGER}),
    }
)
