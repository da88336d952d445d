"""The URLconf of the gateway's handler: only `/run/…`. Resolving a call against the
console's whole URL map first tried every console pattern (measured with bench/: ~7% of
the gateway's CPU per call); the console's map still includes `/run/` for reverse()."""

from django.urls import include, path

urlpatterns = [path("run/", include("models_api.gateway.urls"))]
