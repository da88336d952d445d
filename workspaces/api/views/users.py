"""`/v0/users`: the team of a workspace — members and open invitations."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from workspaces import selectors, services
from workspaces.permissions import Action, method_actions

from ..base import ARRAY_LIST_PARAMETERS, WORKSPACE_PARAMETERS, WorkspaceAPIView, array_response
from ..serializers import (
    InviteSerializer,
    PendingInvitationSerializer,
    RoleUpdateSerializer,
    WorkspaceUserSerializer,
)
from .common import ARRAY_LIST_DESCRIPTION, errors, list_of, path_parameter, validated

SUB_OR_EMAIL = path_parameter("sub_or_email", "A member's user id (`sub`) or email.")
TEAM_ACTIONS = method_actions(read=Action.VIEW_MEMBERS, write=Action.MANAGE_MEMBERS)


class UserListApi(WorkspaceAPIView):
    required_actions = TEAM_ACTIONS

    @extend_schema(
        operation_id="listWorkspaceUsers",
        tags=["users"],
        summary="List the team: members and open invitations",
        description=ARRAY_LIST_DESCRIPTION + " `q` filters by email.",
        parameters=[*WORKSPACE_PARAMETERS, *ARRAY_LIST_PARAMETERS],
        responses={200: list_of(WorkspaceUserSerializer), **errors(400, 401, 403)},
    )
    def get(self, request):
        team = WorkspaceUserSerializer(
            selectors.team_for_workspace(workspace=self.workspace), many=True
        ).data
        return array_response(request, team, lambda user: user, search_fields=("email",))

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
    required_actions = TEAM_ACTIONS

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
