"""Every API error is `{"error", "code", "message"}` (+ `"fields"` on validation errors),
never HTML and never DRF's bare `{"detail": ...}` (DESIGN.md §8).

`exception_handler` covers errors raised inside DRF views; `handler400/403/404/500` (wired
in the root URLconf) cover what Django answers itself — an unknown URL under `/v0`, an
unhandled exception — and fall back to Django's own pages everywhere else.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from workspaces.services import Conflict

SHORT_TEXT = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    500: "internal_server_error",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_response(status_code: int, message: str, fields: dict | None = None, headers=None):
    body = {
        "error": SHORT_TEXT.get(status_code, "error"),
        "code": status_code,
        "message": message,
    }
    if fields:
        body["fields"] = fields
    return Response(body, status=status_code, headers=headers)


def _flatten(detail) -> dict:
    """DRF's nested error detail → {"field": "message", "spec.runtime.model": "..."}."""
    flat: dict[str, str] = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            if value and all(not isinstance(item, (dict, list)) for item in value):
                flat[path or "non_field_errors"] = " ".join(str(item) for item in value)
            else:
                for index, item in enumerate(value):
                    walk(item, f"{path}[{index}]")
        else:
            flat[path or "non_field_errors"] = str(value)

    walk(detail, "")
    return flat


# Codes Django gives a uniqueness violation (field `unique=True` or a UniqueConstraint).
UNIQUE_CODES = frozenset({"unique", "unique_together"})


def _is_uniqueness_error(error: DjangoValidationError) -> bool:
    """A duplicate name is a conflict with existing state (409), not bad input (400)."""
    codes = (
        [item.code for item in error.error_list]
        if not hasattr(error, "error_dict")
        else [item.code for items in error.error_dict.values() for item in items]
    )
    return bool(codes) and all(code in UNIQUE_CODES for code in codes)


def _django_validation_fields(error: DjangoValidationError) -> dict:
    if hasattr(error, "error_dict"):
        return {
            field: " ".join(message for item in errors for message in item.messages)
            for field, errors in error.error_dict.items()
        }
    return {"non_field_errors": " ".join(error.messages)}


def exception_handler(exc, context):
    if isinstance(exc, Conflict):
        return error_response(409, str(exc))
    if isinstance(exc, DjangoValidationError):
        fields = _django_validation_fields(exc)
        if _is_uniqueness_error(exc):
            return error_response(409, " ".join(fields.values()), fields)
        return error_response(400, "The request is invalid: " + "; ".join(fields.values()), fields)
    if isinstance(exc, Http404):
        message = str(exc) or "Not found."
        return error_response(404, message)
    if isinstance(exc, PermissionDenied):
        return error_response(403, str(exc) or "You do not have permission to do this.")
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        summary = "; ".join(f"{key}: {value}" for key, value in fields.items())
        return error_response(400, f"The request is invalid: {summary}", fields)
    if isinstance(exc, exceptions.ParseError):
        return error_response(400, f"Malformed request body: {exc.detail}")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling (no details leak)
    detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
    status_code = response.status_code
    if status_code == status.HTTP_403_FORBIDDEN and isinstance(exc, exceptions.NotAuthenticated):
        status_code = 401
    headers = {
        k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")
    }
    return error_response(status_code, str(detail), headers=headers)


# --- Django-level errors under /v0 ---------------------------------------------------------

API_PREFIX = "/v0/"


def _is_api_request(request) -> bool:
    return request.path == API_PREFIX.rstrip("/") or request.path.startswith(API_PREFIX)


def _json_error(status_code: int, message: str) -> JsonResponse:
    body = {"error": SHORT_TEXT.get(status_code, "error"), "code": status_code, "message": message}
    return JsonResponse(body, status=status_code)


def api_not_found(request, *args, **kwargs):
    """The last `/v0/` route: an unknown API URL is a JSON 404, never a console page (the
    console's `/<workspace>/...` routes would otherwise claim it)."""
    return _json_error(404, f"No API resource at {request.path}.")


def handler400(request, exception=None):
    if _is_api_request(request):
        return _json_error(400, "Bad request.")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api_request(request):
        return _json_error(403, "You do not have permission to do this.")
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if _is_api_request(request):
        return _json_error(404, f"No API resource at {request.path}.")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api_request(request):
        # Never the exception text: it may carry internals.
        return _json_error(500, "Internal server error.")
    return defaults.server_error(request)
