"""`/v0/workspaces`: the workspaces the caller reaches, one workspace, leaving it."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from workspaces import selectors, services
from workspaces.permissions import Action

from ..base import PrincipalAPIView, WorkspaceAPIView
from ..serializers import WorkspaceCreateSerializer, WorkspaceSerializer, WorkspaceUpdateSerializer
from .common import errors, path_parameter, validated

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
