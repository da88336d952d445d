"""URL map. Fixed prefixes first; console pages carry the workspace name
(`/<workspace>/...`), which is why those prefixes are reserved workspace names."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from blaxel_console import availability
from models_api.usage.prometheus import metrics_view
from workspaces.api import errors
from workspaces.api.errors import api_not_found


def healthz(request):
    """Liveness: the process answers (the gateway serves known keys from its caches even
    while the database is down). `/readyz` checks the database and Redis."""
    return JsonResponse({"status": "ok"})


def server_error(request):
    """An unexpected error: a database outage is a 503 (`availability`), anything else
    the API's JSON 500 under /v0 or Django's page."""
    return availability.unavailable_response_for_current_error(request) or errors.handler500(
        request
    )


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", availability.readiness, name="readyz"),
    path("metrics", metrics_view, name="prometheus-metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("v0/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("v0/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("v0/", include("workspaces.api.urls")),
    path("v0/", include("integrations.api.urls")),
    path("v0/", include("models_api.api.urls")),
    path("v0/", include("models_api.usage.api.urls")),
    path("v0/", include("models_api.policies.api.urls")),
    # Keep last among the v0 routes: any other /v0/ URL is a JSON 404.
    re_path(r"^v0/", api_not_found),
    path("run/", include("models_api.gateway.urls")),
    path("", include("workspaces.urls")),
    path("<slug:workspace>/settings/integrations/", include("integrations.urls")),
    path("<slug:workspace>/", include("models_api.usage.urls")),
    path("<slug:workspace>/", include("models_api.policies.urls")),
    path("<slug:workspace>/models/", include("models_api.urls")),
]

# JSON errors for /v0 (unknown URL, unhandled exception); Django's pages elsewhere.
handler400 = "workspaces.api.errors.handler400"
handler403 = "workspaces.api.errors.handler403"
handler404 = "workspaces.api.errors.handler404"
handler500 = server_error
