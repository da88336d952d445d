"""Console screens under /<workspace>/settings/integrations/ (the root URL map adds the
prefix)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.IntegrationsView.as_view(), name="integrations"),
    path("<slug:provider>/", views.ProviderView.as_view(), name="integrations_provider"),
    path(
        "<slug:provider>/new/",
        views.ConnectionCreateView.as_view(),
        name="integration_connection_create",
    ),
    path(
        "<slug:provider>/connections/<slug:name>/",
        views.ConnectionDetailView.as_view(),
        name="integration_connection",
    ),
    path(
        "<slug:provider>/connections/<slug:name>/status/",
        views.ConnectionStatusView.as_view(),
        name="integration_connection_status",
    ),
    path(
        "<slug:provider>/connections/<slug:name>/models/",
        views.ConnectionModelsView.as_view(),
        name="integration_connection_models",
    ),
    path(
        "<slug:provider>/connections/<slug:name>/rotate/",
        views.ConnectionRotateView.as_view(),
        name="integration_connection_rotate",
    ),
    path(
        "<slug:provider>/connections/<slug:name>/settings/",
        views.ConnectionSettingsView.as_view(),
        name="integration_connection_settings",
    ),
    path(
        "<slug:provider>/connections/<slug:name>/check/",
        views.ConnectionRecheckView.as_view(),
        name="integration_connection_recheck",
    ),
    path(
        "<slug:provider>/connections/<slug:name>/delete/",
        views.ConnectionDeleteView.as_view(),
        name="integration_connection_delete",
    ),
]
