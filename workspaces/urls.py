"""Console screens of accounts and workspaces. Fixed prefixes first; the rest carry the
workspace name. `/<workspace>/settings/integrations/` and `/<workspace>/settings/policies/`
belong to other apps (see the root URLconf), so no pattern here may swallow them."""

from django.urls import path

from .views import home, invitations, profile, service_accounts, team, workspace_settings

urlpatterns = [
    path("", home.HomeView.as_view(), name="home"),
    path("workspaces/new/", home.WorkspaceCreateView.as_view(), name="workspace_create"),
    path("profile/security/", profile.ProfileSecurityView.as_view(), name="profile_security"),
    path(
        "profile/security/keys/<int:key_id>/revoke/",
        profile.PersonalKeyRevokeView.as_view(),
        name="personal_key_revoke",
    ),
    path(
        "invitations/<int:invitation_id>/accept/",
        invitations.PendingInvitationAcceptView.as_view(),
        name="pending_invitation_accept",
    ),
    path(
        "invitations/<str:token>/",
        invitations.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
    # --- /<workspace>/ ---
    path("<slug:workspace>/", home.WorkspaceHomeView.as_view(), name="workspace_home"),
    path(
        "<slug:workspace>/settings/",
        workspace_settings.WorkspaceSettingsView.as_view(),
        name="workspace_settings",
    ),
    path(
        "<slug:workspace>/settings/delete/",
        workspace_settings.WorkspaceDeleteView.as_view(),
        name="workspace_delete",
    ),
    path("<slug:workspace>/settings/team/", team.TeamView.as_view(), name="workspace_team"),
    path(
        "<slug:workspace>/settings/team/members/<int:membership_id>/role/",
        team.MemberRoleView.as_view(),
        name="member_role",
    ),
    path(
        "<slug:workspace>/settings/team/members/<int:membership_id>/remove/",
        team.MemberRemoveView.as_view(),
        name="member_remove",
    ),
    path(
        "<slug:workspace>/settings/team/leave/",
        team.LeaveWorkspaceView.as_view(),
        name="workspace_leave",
    ),
    path(
        "<slug:workspace>/settings/team/invitations/<int:invitation_id>/resend/",
        team.InvitationResendView.as_view(),
        name="invitation_resend",
    ),
    path(
        "<slug:workspace>/settings/team/invitations/<int:invitation_id>/revoke/",
        team.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/",
        service_accounts.ServiceAccountListView.as_view(),
        name="service_accounts",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/<str:client_id>/",
        service_accounts.ServiceAccountDetailView.as_view(),
        name="service_account_detail",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/<str:client_id>/keys/<int:key_id>/revoke/",
        service_accounts.ServiceAccountKeyRevokeView.as_view(),
        name="service_account_key_revoke",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/<str:client_id>/client-secret/",
        service_accounts.ServiceAccountSecretRotateView.as_view(),
        name="service_account_secret_rotate",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/<str:client_id>/delete/",
        service_accounts.ServiceAccountDeleteView.as_view(),
        name="service_account_delete",
    ),
    path(
        "<slug:workspace>/settings/audit-log/",
        workspace_settings.AuditLogView.as_view(),
        name="audit_log",
    ),
]
