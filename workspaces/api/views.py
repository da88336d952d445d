"""`/v0` endpoints for workspaces, the team, service accounts and their API keys.

Thin views: validate the body with a serializer, call one selector or service, render.
Writes answer 200 with the resource; a delete answers with the resource as it was.
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions
from rest_framework.response import Response

from workspaces import selectors, services
from workspaces.permissions import Action

from .base import (
    LIST_PARAMETERS,
    WORKSPACE_PARAMETERS,
    PrincipalAPIView,
    WorkspaceAPIView,
    list_response,
)
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    ErrorSerializer,
    InviteSerializer,
    ListMetaSerializer,
    PendingInvitationSerializer,
    RoleUpdateSerializer,
    ServiceAccountCreateSerializer,
    ServiceAccountSerializer,
    ServiceAccountUpdateSerializer,
    WorkspaceCreateSerializer,
    WorkspaceSerializer,
    WorkspaceUpdateSerializer,
    WorkspaceUserSerializer,
)


def validated(serializer_class, request, **context) -> dict:
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def errors(*statuses: int) -> dict:
    return dict.fromkeys(statuses, ErrorSerializer)


def list_of(item_serializer) -> PolymorphicProxySerializer:
    """A list's answer: a plain array, or the envelope (depends on `Blaxel-Version`)."""
    name = item_serializer.__name__.removesuffix("Serializer")
    page = inline_serializer(
        name=f"{name}Page",
        fields={"data": item_serializer(many=True), "meta": ListMetaSerializer()},
    )
    return PolymorphicProxySerializer(
        component_name=f"{name}List",
        serializers=[item_serializer(many=True), page],
        resource_type_field_name=None,
        many=False,
    )


def path_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.PATH, description=description)


LIST_DESCRIPTION = (
    "A plain JSON array; with `Blaxel-Version: 2026-04-28` or later, "
    '`{"data": [...], "meta": {"hasMore", "nextCursor", "total"}}` (see the parameters).'
)


# --- workspaces ---------------------------------------------------------------------------

WORKSPACE_NAME = path_parameter("workspace_name", "The workspace's name.")


class WorkspaceListApi(PrincipalAPIView):
    @extend_schema(
        operation_id="listWorkspaces",
        tags=["workspaces"],
        summary="List the workspaces the caller can reach",
        description="Always a plain JSON array (as Blaxel's client reads it), whatever "
        "the Blaxel-Version.",
        responses={200: WorkspaceSerializer(many=True), **errors(401)},
    )
    def get(self, request):
        workspaces = selectors.workspaces_for_principal(self.principal).select_related("created_by")
        return Response(WorkspaceSerializer(workspaces, many=True).data)

    @extend_schema(
        operation_id="createWorkspace",
        tags=["workspaces"],
        summary="Create a workspace (the caller becomes its admin)",
        description="Only a person can create a workspace, not a service account.",
        request=WorkspaceCreateSerializer,
        responses={200: WorkspaceSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request):
        if self.principal.is_service_account:
            raise exceptions.PermissionDenied(
                "Only a person can create a workspace; a service account belongs to one."
            )
        data = validated(WorkspaceCreateSerializer, request)
        workspace = services.workspace_create(
            name=data["name"], display_name=data.get("displayName", ""), creator=request.user
        )
        return Response(WorkspaceSerializer(workspace).data)


class WorkspaceDetailApi(WorkspaceAPIView):
    workspace_url_kwarg = "workspace_name"
    required_actions = {"PUT": Action.EDIT_WORKSPACE, "DELETE": Action.DELETE_WORKSPACE}

    @extend_schema(
        operation_id="getWorkspace",
        tags=["workspaces"],
        summary="Get a workspace",
        parameters=[WORKSPACE_NAME],
        responses={200: WorkspaceSerializer, **errors(401, 403)},
    )
    def get(self, request, workspace_name):
        return Response(WorkspaceSerializer(self.workspace).data)

    @extend_schema(
        operation_id="updateWorkspace",
        tags=["workspaces"],
        summary="Change a workspace's display name (admin)",
        description="The name is immutable; read-only keys sent back from a GET are ignored.",
        parameters=[WORKSPACE_NAME],
        request=WorkspaceUpdateSerializer,
        responses={200: WorkspaceSerializer, **errors(400, 401, 403, 404)},
    )
    def put(self, request, workspace_name):
        data = validated(WorkspaceUpdateSerializer, request, workspace=self.workspace)
        if "displayName" in data:
            services.workspace_update(
                workspace=self.workspace, display_name=data["displayName"], actor=self.principal
            )
        return Response(WorkspaceSerializer(self.workspace).data)

    @extend_schema(
        operation_id="deleteWorkspace",
        tags=["workspaces"],
        summary="Delete a workspace and everything in it (admin)",
        parameters=[WORKSPACE_NAME],
        responses={200: WorkspaceSerializer, **errors(401, 403, 404)},
    )
    def delete(self, request, workspace_name):
        deleted = WorkspaceSerializer(self.workspace).data
        services.workspace_delete(workspace=self.workspace, actor=self.principal)
        return Response(deleted)


class WorkspaceLeaveApi(WorkspaceAPIView):
    workspace_url_kwarg = "workspace_name"
    # Anyone in the workspace may leave it; the last admin cannot (409).
    required_actions = {"DELETE": Action.VIEW_WORKSPACE}

    @extend_schema(
        operation_id="leaveWorkspace",
        tags=["workspaces"],
        summary="Leave a workspace",
        description="The last admin cannot leave (409). Not for service accounts.",
        parameters=[WORKSPACE_NAME],
        responses={200: WorkspaceSerializer, **errors(401, 403, 404, 409)},
    )
    def delete(self, request, workspace_name):
        if self.principal.is_service_account:
            raise exceptions.PermissionDenied("A service account cannot leave its workspace.")
        membership = selectors.membership_get(
            workspace=self.workspace, sub_or_email=str(self.principal.user_id)
        )
        left = WorkspaceSerializer(self.workspace).data
        services.membership_remove(membership=membership, actor=self.principal)
        return Response(left)


# --- team ---------------------------------------------------------------------------------

SUB_OR_EMAIL = path_parameter("sub_or_email", "A member's user id (`sub`) or email.")


class UserListApi(WorkspaceAPIView):
    required_actions = {"GET": Action.VIEW_MEMBERS, "POST": Action.MANAGE_MEMBERS}

    @extend_schema(
        operation_id="listWorkspaceUsers",
        tags=["users"],
        summary="List the team: members and open invitations",
        description=LIST_DESCRIPTION + " `q` filters by email.",
        parameters=[*WORKSPACE_PARAMETERS, *LIST_PARAMETERS],
        responses={200: list_of(WorkspaceUserSerializer), **errors(400, 401, 403)},
    )
    def get(self, request):
        team = WorkspaceUserSerializer(
            selectors.team_for_workspace(workspace=self.workspace), many=True
        ).data
        return list_response(request, team, lambda user: user, search_fields=("email",))

    @extend_schema(
        operation_id="inviteWorkspaceUser",
        tags=["users"],
        summary="Invite someone by email (admin)",
        description="Mails a one-time link; `role` defaults to member.",
        parameters=WORKSPACE_PARAMETERS,
        request=InviteSerializer,
        responses={200: PendingInvitationSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request):
        data = validated(InviteSerializer, request)
        invitation = services.invitation_create(
            workspace=self.workspace, email=data["email"], role=data["role"], actor=self.principal
        )
        return Response(PendingInvitationSerializer(invitation).data)


class UserDetailApi(WorkspaceAPIView):
    required_actions = {"PUT": Action.MANAGE_MEMBERS, "DELETE": Action.MANAGE_MEMBERS}

    def required_action(self, request):
        # Removing oneself is leaving, which needs no admin rights.
        if request.method == "DELETE" and self._is_caller(self.kwargs["sub_or_email"]):
            return Action.VIEW_WORKSPACE
        return super().required_action(request)

    def _is_caller(self, sub_or_email: str) -> bool:
        if self.principal.user_id is None:
            return False
        return sub_or_email == str(self.principal.user_id) or (
            sub_or_email.lower() == self.principal.label.lower()
        )

    @extend_schema(
        operation_id="updateWorkspaceUserRole",
        tags=["users"],
        summary="Change a member's role (admin)",
        description="The last admin cannot be demoted (409).",
        parameters=[*WORKSPACE_PARAMETERS, SUB_OR_EMAIL],
        request=RoleUpdateSerializer,
        responses={200: WorkspaceUserSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def put(self, request, sub_or_email):
        membership = selectors.membership_get(workspace=self.workspace, sub_or_email=sub_or_email)
        data = validated(RoleUpdateSerializer, request)
        membership = services.membership_change_role(
            membership=membership, role=data["role"], actor=self.principal
        )
        return Response(WorkspaceUserSerializer(membership).data)

    @extend_schema(
        operation_id="removeWorkspaceUser",
        tags=["users"],
        summary="Remove a member, leave, or revoke an invitation",
        description="Admins remove anyone (or revoke an open invitation by email); a member "
        "may remove themselves, i.e. leave. The last admin cannot be removed (409).",
        parameters=[*WORKSPACE_PARAMETERS, SUB_OR_EMAIL],
        responses={200: WorkspaceUserSerializer, **errors(401, 403, 404, 409)},
    )
    def delete(self, request, sub_or_email):
        try:
            membership = selectors.membership_get(
                workspace=self.workspace, sub_or_email=sub_or_email
            )
        except Http404:
            invitation = selectors.open_invitation_get(workspace=self.workspace, email=sub_or_email)
            removed = WorkspaceUserSerializer(invitation).data
            services.invitation_revoke(invitation=invitation, actor=self.principal)
            return Response(removed)
        removed = WorkspaceUserSerializer(membership).data
        services.membership_remove(membership=membership, actor=self.principal)
        return Response(removed)


# --- service accounts ---------------------------------------------------------------------

CLIENT_ID = path_parameter("client_id", "The service account's client id.")


class ServiceAccountListApi(WorkspaceAPIView):
    required_actions = {
        "GET": Action.VIEW_SERVICE_ACCOUNTS,
        "POST": Action.MANAGE_SERVICE_ACCOUNTS,
    }

    @extend_schema(
        operation_id="getWorkspaceServiceAccounts",
        tags=["service_accounts"],
        summary="List service accounts",
        description=LIST_DESCRIPTION + " `q` filters by name.",
        parameters=[*WORKSPACE_PARAMETERS, *LIST_PARAMETERS],
        responses={200: list_of(ServiceAccountSerializer), **errors(400, 401, 403)},
    )
    def get(self, request):
        accounts = selectors.service_accounts_for_workspace(workspace=self.workspace)
        return list_response(
            request, accounts, lambda account: ServiceAccountSerializer(account).data
        )

    @extend_schema(
        operation_id="createWorkspaceServiceAccount",
        tags=["service_accounts"],
        summary="Create a service account (admin)",
        parameters=WORKSPACE_PARAMETERS,
        request=ServiceAccountCreateSerializer,
        responses={200: ServiceAccountSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request):
        data = validated(ServiceAccountCreateSerializer, request)
        account = services.service_account_create(
            workspace=self.workspace, actor=self.principal, **data
        )
        return Response(ServiceAccountSerializer(account).data)


class ServiceAccountAPIView(WorkspaceAPIView):
    """A view under `/v0/service_accounts/{client_id}`: another workspace's account is a 404."""

    def service_account(self):
        return selectors.service_account_get(
            workspace=self.workspace, client_id=self.kwargs["client_id"]
        )


class ServiceAccountDetailApi(ServiceAccountAPIView):
    required_actions = {
        "GET": Action.VIEW_SERVICE_ACCOUNTS,
        "PUT": Action.MANAGE_SERVICE_ACCOUNTS,
        "DELETE": Action.MANAGE_SERVICE_ACCOUNTS,
    }

    @extend_schema(
        operation_id="getWorkspaceServiceAccount",
        tags=["service_accounts"],
        summary="Get a service account",
        parameters=[*WORKSPACE_PARAMETERS, CLIENT_ID],
        responses={200: ServiceAccountSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, client_id):
        return Response(ServiceAccountSerializer(self.service_account()).data)

    @extend_schema(
        operation_id="updateWorkspaceServiceAccount",
        tags=["service_accounts"],
        summary="Change a service account's name, description or role (admin)",
        parameters=[*WORKSPACE_PARAMETERS, CLIENT_ID],
        request=ServiceAccountUpdateSerializer,
        responses={200: ServiceAccountSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def put(self, request, client_id):
        account = self.service_account()
        data = validated(ServiceAccountUpdateSerializer, request)
        account = services.service_account_update(
            service_account=account, actor=self.principal, **data
        )
        return Response(ServiceAccountSerializer(account).data)

    @extend_schema(
        operation_id="deleteWorkspaceServiceAccount",
        tags=["service_accounts"],
        summary="Delete a service account and its API keys (admin)",
        parameters=[*WORKSPACE_PARAMETERS, CLIENT_ID],
        responses={200: ServiceAccountSerializer, **errors(401, 403, 404)},
    )
    def delete(self, request, client_id):
        account = self.service_account()
        deleted = ServiceAccountSerializer(account).data
        services.service_account_delete(service_account=account, actor=self.principal)
        return Response(deleted)


class ServiceAccountApiKeyListApi(ServiceAccountAPIView):
    required_actions = {
        "GET": Action.VIEW_SERVICE_ACCOUNTS,
        "POST": Action.MANAGE_SERVICE_ACCOUNTS,
    }

    @extend_schema(
        operation_id="listApiKeysForServiceAccount",
        tags=["service_accounts"],
        summary="List a service account's API keys (never the keys themselves)",
        description="Revoked keys are not listed. Always a plain JSON array (as Blaxel's "
        "client reads it), whatever the Blaxel-Version.",
        parameters=[*WORKSPACE_PARAMETERS, CLIENT_ID],
        responses={200: ApiKeySerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request, client_id):
        api_keys = (
            selectors.api_keys_for_service_account(service_account=self.service_account())
            .filter(revoked_at__isnull=True)
            .select_related("service_account", "created_by")
        )
        return Response(ApiKeySerializer(api_keys, many=True).data)

    @extend_schema(
        operation_id="createApiKeyForServiceAccount",
        tags=["service_accounts"],
        summary="Create an API key for a service account (admin)",
        description="The answer's `apiKey` is the key itself: it is shown this once and "
        "stored only as a hash.",
        parameters=[*WORKSPACE_PARAMETERS, CLIENT_ID],
        request=ApiKeyCreateSerializer,
        responses={200: ApiKeyCreatedSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, client_id):
        account = self.service_account()
        data = validated(ApiKeyCreateSerializer, request)
        api_key, raw_key = services.service_account_api_key_create(
            service_account=account,
            name=data["name"],
            expires_in=data["expires_in"],
            actor=self.principal,
        )
        return Response(ApiKeyCreatedSerializer(api_key, context={"raw_key": raw_key}).data)


class ServiceAccountApiKeyDetailApi(ServiceAccountAPIView):
    required_actions = {"DELETE": Action.MANAGE_SERVICE_ACCOUNTS}

    @extend_schema(
        operation_id="deleteApiKeyForServiceAccount",
        tags=["service_accounts"],
        summary="Revoke a service account's API key (admin)",
        parameters=[
            *WORKSPACE_PARAMETERS,
            CLIENT_ID,
            path_parameter("api_key_id", "The key's id."),
        ],
        responses={200: ApiKeySerializer, **errors(401, 403, 404)},
    )
    def delete(self, request, client_id, api_key_id):
        api_key = selectors.service_account_api_key_get(
            service_account=self.service_account(), api_key_id=api_key_id
        )
        api_key = services.api_key_revoke(api_key=api_key, actor=self.principal)
        return Response(ApiKeySerializer(api_key).data)
