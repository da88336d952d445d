"""Serializers of the `/v0` API for workspaces, the team and service accounts.

Input serializers only validate; the services write. Output serializers render the JSON
shapes of Blaxel's control-plane API as its generated Python client (blaxel 0.4.24)
parses them — which is camelCase for workspaces, invitations and API keys, but snake_case
for team members (`email_verified`) and service accounts (`client_id`, `created_at`),
exactly as that client reads them.

Body rules, the same for POST and PUT: a key that is not part of the resource's shape is
refused (400, naming the key), so a typo never passes silently; a read-only key of the
shape (`createdAt`, `status`, `client_id`, ...) is accepted and ignored, so a body copied
from a GET can be sent back.
"""

from datetime import timedelta

from rest_framework import serializers

from workspaces.models import ApiKey, Invitation, Membership, slug_validator
from workspaces.permissions import Role
from workspaces.services import API_KEY_EXPIRY

ROLE_ERRORS = {"invalid_choice": f"Role must be one of: {', '.join(Role.values)}."}


class StrictInputSerializer(serializers.Serializer):
    """Refuses keys outside the resource's shape; drops its read-only keys."""

    # Keys of the resource that a client may send back but cannot change.
    read_only_keys: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            allowed = set(self.fields) | self.read_only_keys
            unknown = sorted(key for key in data if key not in allowed)
            if unknown:
                writable = ", ".join(sorted(self.fields))
                raise serializers.ValidationError(
                    {key: f"Unknown field. Fields you can set: {writable}." for key in unknown}
                )
            data = {key: value for key, value in data.items() if key in self.fields}
        return super().to_internal_value(data)


# --- workspaces ---------------------------------------------------------------------------

# Every key of the client's `Workspace` model that this console does not let a client set.
WORKSPACE_READ_ONLY_KEYS = frozenset(
    {
        "id",
        "accountId",
        "basetenTeamId",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "groupMappings",
        "hipaaInfo",
        "labels",
        "region",
        "resourceCounts",
        "runtime",
        "status",
        "statusReason",
    }
)


class WorkspaceCreateSerializer(StrictInputSerializer):
    read_only_keys = WORKSPACE_READ_ONLY_KEYS

    name = serializers.CharField(
        max_length=40,
        help_text="Lowercase letters, digits and hyphens; cannot be changed later.",
    )
    displayName = serializers.CharField(max_length=100, required=False, allow_blank=True)


class WorkspaceUpdateSerializer(StrictInputSerializer):
    read_only_keys = WORKSPACE_READ_ONLY_KEYS

    name = serializers.CharField(
        required=False, help_text="May be sent back unchanged; a workspace cannot be renamed."
    )
    displayName = serializers.CharField(max_length=100, required=False)

    def validate_name(self, value):
        if value != self.context["workspace"].name:
            raise serializers.ValidationError(
                "A workspace's name cannot be changed; edit its displayName instead."
            )
        return value


class WorkspaceSerializer(serializers.Serializer):
    """Blaxel's `Workspace`."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    displayName = serializers.CharField(source="display_name", read_only=True)
    labels = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)
    createdBy = serializers.EmailField(
        source="created_by.email", read_only=True, allow_null=True, default=None
    )

    def get_labels(self, workspace) -> dict[str, str]:
        return {}

    def get_status(self, workspace) -> str:
        # A self-hosted workspace has nothing to provision: it is ready once it exists.
        return "ready"


# --- team ---------------------------------------------------------------------------------


class InviteSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=Role.choices, default=Role.MEMBER, error_messages=ROLE_ERRORS
    )


class RoleUpdateSerializer(StrictInputSerializer):
    read_only_keys = frozenset(
        {
            "accepted",
            "email",
            "email_verified",
            "expired",
            "family_name",
            "given_name",
            "mfa_enabled",
            "source",
            "sub",
        }
    )

    role = serializers.ChoiceField(choices=Role.choices, error_messages=ROLE_ERRORS)


class WorkspaceUserSerializer(serializers.Serializer):
    """Blaxel's `WorkspaceUser`: a member (`accepted: true`, `sub` = user id) or an open
    invitation (`accepted: false`, no `sub` yet, `expired` once past its expiry)."""

    sub = serializers.CharField(read_only=True, allow_null=True)
    email = serializers.EmailField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    accepted = serializers.BooleanField(read_only=True)
    expired = serializers.BooleanField(read_only=True)
    email_verified = serializers.BooleanField(read_only=True)
    given_name = serializers.CharField(read_only=True)
    family_name = serializers.CharField(read_only=True)

    def to_representation(self, instance: Membership | Invitation) -> dict:
        if isinstance(instance, Membership):
            user = instance.user
            return {
                "sub": str(user.pk),
                "email": user.email,
                "role": instance.role,
                "accepted": True,
                "expired": False,
                "email_verified": any(
                    address.verified and address.email.lower() == user.email.lower()
                    for address in user.emailaddress_set.all()
                ),
                "given_name": user.first_name,
                "family_name": user.last_name,
            }
        return {
            "sub": None,
            "email": instance.email,
            "role": instance.role,
            "accepted": False,
            "expired": instance.status == Invitation.Status.EXPIRED,
            "email_verified": False,
            "given_name": "",
            "family_name": "",
        }


class PendingInvitationSerializer(serializers.Serializer):
    """Blaxel's `PendingInvitation` (the answer to an invite)."""

    email = serializers.EmailField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    workspace = serializers.CharField(source="workspace.name", read_only=True)
    invitedBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="sent_at", read_only=True)
    createdBy = serializers.SerializerMethodField()
    expiresAt = serializers.DateTimeField(source="expires_at", read_only=True)

    def get_invitedBy(self, invitation) -> str | None:
        return str(invitation.invited_by_id) if invitation.invited_by_id else None

    def get_createdBy(self, invitation) -> str | None:
        return invitation.invited_by.email if invitation.invited_by else None


# --- scopes, service accounts and their API keys ----------------------------------------


class ScopeSerializer(serializers.Serializer):
    """What a key or a service account's OAuth tokens are restricted to: `modelApis`
    (names; empty = every model API) and/or `inferenceOnly` (no `/v0` writes)."""

    modelApis = serializers.ListField(
        child=serializers.CharField(max_length=63, validators=[slug_validator]),
        source="model_apis",
        max_length=100,
        default=list,
        help_text="Model API names this credential may call; empty means all.",
    )
    inferenceOnly = serializers.BooleanField(
        source="inference_only",
        default=False,
        help_text="True: the gateway only, no /v0 writes.",
    )


def scope_fields(validated: dict) -> dict:
    """A validated body's `scope` as the services' keyword arguments."""
    scope = validated.pop("scope", None)
    if scope is None:
        return {}
    return {
        "scope_model_apis": list(scope.get("model_apis", [])),
        "scope_inference_only": scope.get("inference_only", False),
    }


SERVICE_ACCOUNT_READ_ONLY_KEYS = frozenset(
    {"client_id", "client_secret", "created_at", "updated_at"}
)
SCOPE_HELP = "Restricts the service account's OAuth access tokens (its API keys carry their own)."


class ServiceAccountCreateSerializer(StrictInputSerializer):
    read_only_keys = SERVICE_ACCOUNT_READ_ONLY_KEYS

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, default="")
    role = serializers.ChoiceField(
        choices=Role.choices,
        default=Role.MEMBER,
        error_messages=ROLE_ERRORS,
        help_text="Defaults to member (least privilege).",
    )
    scope = ScopeSerializer(required=False, help_text=SCOPE_HELP)


class ServiceAccountUpdateSerializer(StrictInputSerializer):
    read_only_keys = SERVICE_ACCOUNT_READ_ONLY_KEYS

    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False, error_messages=ROLE_ERRORS)
    scope = ScopeSerializer(required=False, help_text=SCOPE_HELP + " A new scope revokes them.")


class ServiceAccountSerializer(serializers.Serializer):
    """Blaxel's service account (snake_case keys, as its client reads them). The
    `client_secret` is never read back: see `ServiceAccountCreatedSerializer`."""

    client_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    scope = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_scope(self, account) -> dict:
        return account.scope.as_dict()


class ServiceAccountCreatedSerializer(ServiceAccountSerializer):
    """The answer to a creation or a secret rotation: the only time `client_secret` (for
    OAuth client credentials at `POST /v0/oauth/token`) is shown."""

    client_secret = serializers.SerializerMethodField()

    def get_client_secret(self, account) -> str:
        return self.context["client_secret"]


EXPIRY_ERRORS = {"invalid_choice": f"expires_in must be one of: {', '.join(API_KEY_EXPIRY)}."}


class ApiKeyCreateSerializer(StrictInputSerializer):
    read_only_keys = frozenset(
        {"id", "apiKey", "createdAt", "updatedAt", "createdBy", "updatedBy", "sub", "sub_type"}
    )

    name = serializers.CharField(max_length=100, default="API key")
    expires_in = serializers.ChoiceField(
        choices=list(API_KEY_EXPIRY),
        allow_null=True,
        default="never",
        error_messages=EXPIRY_ERRORS,
        help_text="`24h`, `1w`, `30d` or `never` (the default; null means never too).",
    )
    scope = ScopeSerializer(required=False, help_text="Fixed when the key is made.")

    def validate_expires_in(self, value):
        return value or "never"


def _expires_in(api_key: ApiKey) -> str:
    """The expiry option the key was created with, recovered from its two timestamps."""
    if api_key.expires_at is None:
        return "never"
    lifetime = api_key.expires_at - api_key.created_at
    for option, delta in API_KEY_EXPIRY.items():
        if delta is not None and abs(lifetime - delta) < timedelta(minutes=1):
            return option
    return ""


class ApiKeySerializer(serializers.Serializer):
    """Blaxel's `ApiKey`, without the key itself (shown once, at creation). `prefix` is
    the key's first characters, to recognise it; `sub` is the service account's
    client id."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True)
    expires_in = serializers.SerializerMethodField()
    expiresAt = serializers.DateTimeField(source="expires_at", read_only=True, allow_null=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", read_only=True, allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", read_only=True, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    createdBy = serializers.EmailField(
        source="created_by.email", read_only=True, allow_null=True, default=None
    )
    sub = serializers.CharField(source="service_account.client_id", read_only=True)
    sub_type = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()

    def get_expires_in(self, api_key) -> str:
        return _expires_in(api_key)

    def get_scope(self, api_key) -> dict:
        return api_key.scope.as_dict()

    def get_sub_type(self, api_key) -> str:
        return "service_account"


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """The answer to a key's creation: the only time `apiKey` (the raw key) is shown."""

    apiKey = serializers.SerializerMethodField()

    def get_apiKey(self, api_key) -> str:
        return self.context["raw_key"]


# --- lists --------------------------------------------------------------------------------


class ListMetaSerializer(serializers.Serializer):
    hasMore = serializers.BooleanField()
    nextCursor = serializers.CharField(help_text="Empty on the last page.")
    total = serializers.IntegerField(help_text="Items matching `q`, across all pages.")


class ErrorSerializer(serializers.Serializer):
    """Every error of the API (Blaxel's `Error`, plus the per-field messages)."""

    error = serializers.CharField(help_text="Short text, e.g. `not_found`.")
    code = serializers.IntegerField(help_text="The HTTP status.")
    message = serializers.CharField(help_text="A sentence for a person.")
    fields = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="On validation errors: field → message.",
    )
