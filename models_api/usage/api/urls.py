"""`/v0` routes of usage (no trailing slashes, like Blaxel's control-plane API)."""

from django.urls import path

from . import views

urlpatterns = [
    path("models/<str:name>/metrics", views.ModelAPIMetricsApi.as_view(), name="api-model-metrics"),
    path("models/<str:name>/logs", views.ModelAPILogsApi.as_view(), name="api-model-logs"),
    path("usage", views.WorkspaceUsageApi.as_view(), name="api-usage"),
]
