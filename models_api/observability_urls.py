"""Console screens of issue 5 under /<workspace>/ (the root URL map adds the prefix):
the Usage page and Workspace settings → Policies. (The model API's Logs, Metrics and
Policies tabs are routed with its other tabs, in `models_api.urls`.)"""

from django.urls import path

from . import observability_views as views

urlpatterns = [
    path("usage/", views.WorkspaceUsageView.as_view(), name="workspace_usage"),
    path("settings/policies/", views.PolicyListView.as_view(), name="policy_list"),
    path("settings/policies/new/", views.PolicyCreateView.as_view(), name="policy_create"),
    path("settings/policies/<slug:policy>/", views.PolicyEditView.as_view(), name="policy_edit"),
    path(
        "settings/policies/<slug:policy>/delete/",
        views.PolicyDeleteView.as_view(),
        name="policy_delete",
    ),
]
