"""`/v0` routes of the workspaces app. Paths and parameter names follow Blaxel's
control-plane API (no trailing slashes), so its generated client works unchanged."""

from django.urls import path

from . import views

urlpatterns = [
    path("workspaces", views.WorkspaceListApi.as_view(), name="api-workspaces"),
    path(
        "workspaces/<str:workspace_name>",
        views.WorkspaceDetailApi.as_view(),
        name="api-workspace",
    ),
    path(
        "workspaces/<str:workspace_name>/leave",
        views.WorkspaceLeaveApi.as_view(),
        name="api-workspace-leave",
    ),
    path("users", views.UserListApi.as_view(), name="api-users"),
    path("users/<str:sub_or_email>", views.UserDetailApi.as_view(), name="api-user"),
    path("service_accounts", views.ServiceAccountListApi.as_view(), name="api-service-accounts"),
    path(
        "service_accounts/<str:client_id>",
        views.ServiceAccountDetailApi.as_view(),
        name="api-service-account",
    ),
    path(
        "service_accounts/<str:client_id>/api_keys",
        views.ServiceAccountApiKeyListApi.as_view(),
        name="api-service-account-keys",
    ),
    path(
        "service_accounts/<str:client_id>/api_keys/<str:api_key_id>",
        views.ServiceAccountApiKeyDetailApi.as_view(),
        name="api-service-account-key",
    ),
]
