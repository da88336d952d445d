"""Console screens of accounts and workspaces. Fixed prefixes first; the rest carry the
workspace name. `/<workspace>/settings/integrations/` and `/<workspace>/settings/policies/`
belong to other apps (see the root URLconf), so no pattern here may swallow them."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("workspaces/new/", views.WorkspaceCreateView.as_view(), name="workspace_create"),
    path("profile/security/", views.ProfileSecurityView.as_view(), name="profile_security"),
    path(
        "profile/security/keys/<int:key_id>/revoke/",
        views.PersonalKeyRevokeView.as_view(),
        name="personal_key_revoke",
    ),
    path(
        "invitations/<int:invitation_id>/accept/",
        views.PendingInvitationAcceptView.as_view(),
        name="pending_invitation_accept",
    ),
    path(
        "invitations/<str:token>/",
        views.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
    # --- /<workspace>/ ---
    path("<slug:workspace>/", views.WorkspaceHomeView.as_view(), name="workspace_home"),
    path(
        "<slug:workspace>/settings/",
        views.WorkspaceSettingsView.as_view(),
        name="workspace_settings",
    ),
    path(
        "<slug:workspace>/settings/delete/",
        views.WorkspaceDeleteView.as_view(),
        name="workspace_delete",
    ),
    path("<slug:workspace>/settings/team/", views.TeamView.as_view(), name="workspace_team"),
    path(
        "<slug:workspace>/settings/team/members/<int:membership_id>/role/",
        views.MemberRoleView.as_view(),
        name="member_role",
    ),
    path(
        "<slug:workspace>/settings/team/members/<int:membership_id>/remove/",
        views.MemberRemoveView.as_view(),
        name="member_remove",
    ),
    path(
        "<slug:workspace>/settings/team/leave/",
        views.LeaveWorkspaceView.as_view(),
        name="workspace_leave",
    ),
    path(
        "<slug:workspace>/settings/team/invitations/<int:invitation_id>/resend/",
        views.InvitationResendView.as_view(),
        name="invitation_resend",
    ),
    path(
        "<slug:workspace>/settings/team/invitations/<int:invitation_id>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/",
        views.ServiceAccountListView.as_view(),
        name="service_accounts",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/<str:client_id>/",
        views.ServiceAccountDetailView.as_view(),
        name="service_account_detail",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/<str:client_id>/keys/<int:key_id>/revoke/",
        views.ServiceAccountKeyRevokeView.as_view(),
        name="service_account_key_revoke",
    ),
    path(
        "<slug:workspace>/settings/service-accounts/<str:client_id>/delete/",
        views.ServiceAccountDeleteView.as_view(),
        name="service_account_delete",
    ),
    path(
        "<slug:workspace>/settings/audit-log/",
        views.AuditLogView.as_view(),
        name="audit_log",
    ),
]
