"""Console screens of issue 5 under /<workspace>/ (the root URL map adds the prefix):
the Usage page, Workspace settings → Policies, and the model API's Logs, Metrics and
Policies tabs.

The root URL map includes this module before `models_api.urls`, so the three tabs below
take precedence over the placeholders there; they keep no names of their own, so
`{% url 'model_api_logs' ... %}` (same path) still reverses through `models_api.urls`."""

from django.urls import path

from . import observability_views as views

urlpatterns = [
    path("usage/", views.WorkspaceUsageView.as_view(), name="workspace_usage"),
    path("models/<slug:name>/logs/", views.ModelAPILogsView.as_view()),
    path("models/<slug:name>/metrics/", views.ModelAPIMetricsView.as_view()),
    path("models/<slug:name>/policies/", views.ModelAPIPoliciesView.as_view()),
    path("settings/policies/", views.PolicyListView.as_view(), name="policy_list"),
    path("settings/policies/new/", views.PolicyCreateView.as_view(), name="policy_create"),
    path("settings/policies/<slug:policy>/", views.PolicyEditView.as_view(), name="policy_edit"),
    path(
        "settings/policies/<slug:policy>/delete/",
        views.PolicyDeleteView.as_view(),
        name="policy_delete",
    ),
]
