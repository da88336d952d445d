"""The inference endpoints, mounted under `/run/` (DESIGN.md §7). Served by
`handler.GatewayASGIHandler` (see `blaxel_console/asgi.py`)."""

from django.urls import path, re_path

from .base_endpoint import CHAT_PATH, BaseEndpointView
from .views import GatewayView, not_found

urlpatterns = [
    # Blaxel's base endpoint (no sub-path): text generation as a chat completion.
    path(
        "<slug:workspace>/models/<str:model_api>",
        BaseEndpointView.as_view(),
        {"path": CHAT_PATH},
        name="gateway-base",
    ),
    path(
        "<slug:workspace>/models/<str:model_api>/<path:path>",
        GatewayView.as_view(),
        name="gateway",
    ),
    # Anything else under /run/: a 404 in OpenAI's shape, not the console's HTML page.
    re_path(r"^", not_found, name="gateway-not-found"),
]
