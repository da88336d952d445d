from django.urls import path

from . import views

urlpatterns = [
    path(
        "integrations/connections",
        views.ConnectionListCreateApi.as_view(),
        name="api-integration-connections",
    ),
    path(
        "integrations/connections/<str:name>",
        views.ConnectionDetailApi.as_view(),
        name="api-integration-connection",
    ),
    path(
        "integrations/connections/<str:name>/models",
        views.ConnectionModelsApi.as_view(),
        name="api-integration-connection-models",
    ),
    path(
        "integrations/connections/<str:name>/models/<path:model_id>",
        views.ConnectionModelApi.as_view(),
        name="api-integration-connection-model",
    ),
    path("integrations/<str:provider>", views.ProviderApi.as_view(), name="api-integration"),
]
