"""Every API error is `{"error", "code", "message"}` (+ `"fields"` on validation errors),
never HTML and never DRF's bare `{"detail": ...}` (DESIGN.md §8)."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
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
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    return error_response(status_code, str(detail), headers=headers)
