"""`/v0` routes of issue 5 (no trailing slashes, like Blaxel's control-plane API)."""

from django.urls import path

from . import observability as views

urlpatterns = [
    path("policies", views.PolicyListCreateApi.as_view(), name="api-policies"),
    path("policies/<str:name>", views.PolicyDetailApi.as_view(), name="api-policy"),
    path("models/<str:name>/metrics", views.ModelAPIMetricsApi.as_view(), name="api-model-metrics"),
    path("models/<str:name>/logs", views.ModelAPILogsApi.as_view(), name="api-model-logs"),
    path("usage", views.WorkspaceUsageApi.as_view(), name="api-usage"),
]
