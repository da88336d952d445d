"""The console and `/v0` while the database is down, and the readiness probe.

A page or an API call that needs the database while it cannot be reached answers 503
with `Retry-After` — the console's "temporarily unavailable" page (`templates/503.html`,
rendered without touching the database), or the API's JSON error — never a 500 or a
traceback. The gateway keeps serving the keys and routes it knows from its in-process
caches meanwhile (`models_api.gateway.caches`), so `/healthz` (the process answers: keep
sending it traffic) stays 200, and `/readyz` says which dependency is down.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin

from blaxel_console import redis

logger = logging.getLogger(__name__)

# The errors Django raises when the database cannot be reached or the connection broke.
DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
API_PREFIX = "/v0"


def database_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, DATABASE_ERRORS)


def unavailable_response(request) -> HttpResponse:
    """The 503 for `request`: JSON under `/v0`, the console's page elsewhere."""
    if request.path == API_PREFIX or request.path.startswith(f"{API_PREFIX}/"):
        response = JsonResponse(
            {
                "error": "service_unavailable",
                "code": 503,
                "message": "The console's database cannot be reached right now; "
                f"retry in {RETRY_AFTER_SECONDS} s.",
            },
            status=503,
        )
    else:
        # No request context: context processors read the session and the workspaces.
        page = render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A view (or the rendering of its page) that meets a database outage answers 503."""

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.warning("database unreachable: %s %s answered 503 (%s)", request.method,
                       request.path, exception)  # fmt: skip
        return unavailable_response(request)


def unavailable_response_for_current_error(request) -> HttpResponse | None:
    """For the 500 handler (errors outside views: a middleware saving the session): the
    503 when the error being handled is a database outage, else None."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    return None


def _database_state() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_ERRORS:
        return "down"
    return "ok"


def _redis_state() -> str:
    if not redis.is_configured():
        return "not configured"
    try:
        redis.sync_client().ping()
    except redis.ERRORS:
        return "down"
    return "ok"


def readiness(request) -> JsonResponse:
    """`GET /readyz`: 200 when the database and Redis answer, else 503 naming what is
    down (`{"status", "database", "redis"}`)."""
    checks = {"database": _database_state(), "redis": _redis_state()}
    ready = "down" not in checks.values()
    response = JsonResponse({"status": "ready" if ready else "unavailable", **checks},
                            status=200 if ready else 503)  # fmt: skip
    response["Cache-Control"] = "no-store"
    if not ready:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
