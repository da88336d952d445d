"""`/v0` routes of the workspaces app. Paths and parameter names follow Blaxel's
control-plane API (no trailing slashes), so its generated client works unchanged."""

from django.urls import path

from .views import oauth, service_accounts, users, workspaces

urlpatterns = [
    path("oauth/token", oauth.OAuthTokenApi.as_view(), name="api-oauth-token"),
    path("workspaces", workspaces.WorkspaceListApi.as_view(), name="api-workspaces"),
    path(
        "workspaces/<str:workspace_name>",
        workspaces.WorkspaceDetailApi.as_view(),
        name="api-workspace",
    ),
    path(
        "workspaces/<str:workspace_name>/leave",
        workspaces.WorkspaceLeaveApi.as_view(),
        name="api-workspace-leave",
    ),
    path("users", users.UserListApi.as_view(), name="api-users"),
    path("users/<str:sub_or_email>", users.UserDetailApi.as_view(), name="api-user"),
    path(
        "service_accounts",
        service_accounts.ServiceAccountListApi.as_view(),
        name="api-service-accounts",
    ),
    path(
        "service_accounts/<str:client_id>",
        service_accounts.ServiceAccountDetailApi.as_view(),
        name="api-service-account",
    ),
    path(
        "service_accounts/<str:client_id>/client_secret",
        service_accounts.ServiceAccountSecretApi.as_view(),
        name="api-service-account-secret",
    ),
    path(
        "service_accounts/<str:client_id>/api_keys",
        service_accounts.ServiceAccountApiKeyListApi.as_view(),
        name="api-service-account-keys",
    ),
    path(
        "service_accounts/<str:client_id>/api_keys/<str:api_key_id>",
        service_accounts.ServiceAccountApiKeyDetailApi.as_view(),
        name="api-service-account-key",
    ),
]
