"""Usage screens under /<workspace>/ (the root URL map adds the prefix): the workspace
Usage page and the model API's Logs and Metrics tabs."""

from django.urls import path

from . import views

urlpatterns = [
    path("usage/", views.WorkspaceUsageView.as_view(), name="workspace_usage"),
    path("settings/prices/", views.PricesView.as_view(), name="workspace_prices"),
    path(
        "settings/prices/<slug:name>/",
        views.PriceOverrideView.as_view(),
        name="model_api_prices",
    ),
    path("models/<slug:name>/logs/", views.ModelAPILogsView.as_view(), name="model_api_logs"),
    path(
        "models/<slug:name>/metrics/",
        views.ModelAPIMetricsView.as_view(),
        name="model_api_metrics",
    ),
]
