"""`/v0/service_accounts`: service accounts and their API keys."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from workspaces import selectors, services
from workspaces.permissions import Action, method_actions

from ..base import ARRAY_LIST_PARAMETERS, WORKSPACE_PARAMETERS, WorkspaceAPIView, array_response
from ..serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    ServiceAccountCreatedSerializer,
    ServiceAccountCreateSerializer,
    ServiceAccountSerializer,
    ServiceAccountUpdateSerializer,
    scope_fields,
)
from .common import ARRAY_LIST_DESCRIPTION, errors, list_of, path_parameter, validated

CLIENT_ID = path_parameter("client_id", "The service account's client id.")
SERVICE_ACCOUNT_ACTIONS = method_actions(
    read=Action.VIEW_SERVICE_ACCOUNTS, write=Action.MANAGE_SERVICE_ACCOUNTS
)


class ServiceAccountListApi(WorkspaceAPIView):
    required_actions = SERVICE_ACCOUNT_ACTIONS

    @extend_schema(
        operation_id="getWorkspaceServiceAccounts",
        tags=["service_accounts"],
        summary="List service accounts",
        description=ARRAY_LIST_DESCRIPTION + " `q` filters by name.",
        parameters=[*WORKSPACE_PARAMETERS, *ARRAY_LIST_PARAMETERS],
        responses={200: list_of(ServiceAccountSerializer), **errors(400, 401, 403)},
    )
    def get(self, request):
        accounts = selectors.service_accounts_for_workspace(workspace=self.workspace)
        return array_response(
            request, accounts, lambda account: ServiceAccountSerializer(account).data
        )

    @extend_schema(
        operation_id="createWorkspaceServiceAccount",
        tags=["service_accounts"],
        summary="Create a service account (admin)",
        description="The answer's `client_secret` is shown this once (stored hashed): with "
        "`client_id` it obtains OAuth access tokens at `POST /v0/oauth/token`.",
        parameters=WORKSPACE_PARAMETERS,
        request=ServiceAccountCreateSerializer,
        responses={200: ServiceAccountCreatedSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request):
        data = validated(ServiceAccountCreateSerializer, request)
        account = services.service_account_create(
            workspace=self.workspace, actor=self.principal, **scope_fields(data), **data
        )
        context = {"client_secret": account.issued_client_secret}
        return Response(ServiceAccountCreatedSerializer(account, context=context).data)


class ServiceAccountAPIView(WorkspaceAPIView):
    """A view under `/v0/service_accounts/{client_id}`: another workspace's account is a 404."""

    required_actions = SERVICE_ACCOUNT_ACTIONS

    def service_account(self):
        return selectors.service_account_get(
            workspace=self.workspace, client_id=self.kwargs["client_id"]
        )


class ServiceAccountDetailApi(ServiceAccountAPIView):
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
            service_account=account, actor=self.principal, **scope_fields(data), **data
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


class ServiceAccountSecretApi(ServiceAccountAPIView):
    @extend_schema(
        operation_id="rotateWorkspaceServiceAccountSecret",
        tags=["service_accounts"],
        summary="Rotate a service account's client secret (admin)",
        description="A new `client_secret`, shown this once. The old secret and every "
        "OAuth token issued with it stop working at once.",
        parameters=[*WORKSPACE_PARAMETERS, CLIENT_ID],
        request=None,
        responses={200: ServiceAccountCreatedSerializer, **errors(401, 403, 404)},
    )
    def post(self, request, client_id):
        account = self.service_account()
        secret = services.service_account_secret_rotate(
            service_account=account, actor=self.principal
        )
        context = {"client_secret": secret}
        return Response(ServiceAccountCreatedSerializer(account, context=context).data)


class ServiceAccountApiKeyListApi(ServiceAccountAPIView):
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
            **scope_fields(data),
        )
        return Response(ApiKeyCreatedSerializer(api_key, context={"raw_key": raw_key}).data)


class ServiceAccountApiKeyDetailApi(ServiceAccountAPIView):
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
