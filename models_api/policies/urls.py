"""Policy screens under /<workspace>/ (the root URL map adds the prefix): Workspace
settings → Policies and the model API's Policies tab."""

from django.urls import path

from . import views

urlpatterns = [
    path("settings/policies/", views.PolicyListView.as_view(), name="policy_list"),
    path("settings/policies/new/", views.PolicyCreateView.as_view(), name="policy_create"),
    path("settings/policies/<slug:policy>/", views.PolicyEditView.as_view(), name="policy_edit"),
    path(
        "settings/policies/<slug:policy>/delete/",
        views.PolicyDeleteView.as_view(),
        name="policy_delete",
    ),
    path(
        "models/<slug:name>/policies/",
        views.ModelAPIPoliciesView.as_view(),
        name="model_api_policies",
    ),
]
