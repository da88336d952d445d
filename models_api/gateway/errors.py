"""Errors the gateway itself makes, in OpenAI's shape, so that OpenAI's SDKs raise the
right exception types: `{"error": {"message", "type", "param", "code"}}`."""

import orjson
from django.http import HttpResponse


class GatewayError(Exception):
    """Raised anywhere on the gateway path; the view turns it into the response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    @property
    def error_type(self) -> str:
        """What a usage record stores as the error."""
        return self.code or self.type

    def body(self) -> bytes:
        return error_body(self.message, type=self.type, code=self.code, param=self.param)

    def response(self) -> HttpResponse:
        return json_response(self.status, self.body(), self.headers)


def error_body(message: str, *, type: str, code: str | None = None, param=None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})


def json_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    # No CommonMiddleware on this path: say how long the body is ourselves.
    response["Content-Length"] = str(len(body))
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def unauthorized(message: str = "Invalid, revoked or expired API key.") -> GatewayError:
    return GatewayError(
        401,
        message,
        code="invalid_api_key",
        headers={"WWW-Authenticate": 'Bearer realm="blaxel"'},
    )


def no_key() -> GatewayError:
    return unauthorized(
        "No API key provided. Send your console API key as `Authorization: Bearer <key>` "
        "(or `X-Blaxel-Authorization: Bearer <key>`)."
    )


def forbidden(message: str, code: str) -> GatewayError:
    return GatewayError(403, message, type="permission_error", code=code)


def no_access(message: str) -> GatewayError:
    """A workspace the caller cannot reach, or one that does not exist: one status and
    one code for both, so that the gateway does not tell which names exist."""
    return forbidden(message, "no_access")


def not_found(message: str, code: str = "not_found") -> GatewayError:
    return GatewayError(404, message, code=code)


# Answers given before the whole body was read: the rest of it may still be coming, so
# the connection cannot serve another request (and uvicorn closes it only when told).
CLOSE_CONNECTION = {"Connection": "close"}


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"The request body is larger than the gateway's limit of {limit} bytes.",
        code="request_too_large",
        headers=CLOSE_CONNECTION,
    )


def body_too_slow(seconds: float) -> GatewayError:
    return GatewayError(
        408,
        f"The request body did not arrive within the gateway's {seconds:g} seconds.",
        code="request_timeout",
        headers=CLOSE_CONNECTION,
    )


def bad_gateway(message: str) -> GatewayError:
    return GatewayError(502, message, type="upstream_error", code="upstream_unreachable")


def broken_off() -> GatewayError:
    """The provider hung up before its answer was complete."""
    message = "The provider broke off its answer."
    return GatewayError(502, message, type="upstream_error", code="upstream_disconnected")


def invalid_answer() -> GatewayError:
    """The provider's answer is not what its API sends (a body that is not JSON)."""
    return GatewayError(
        502,
        "The provider's answer could not be read: it is not valid JSON.",
        type="upstream_error",
        code="upstream_invalid_response",
    )


def gateway_timeout(message: str) -> GatewayError:
    return GatewayError(504, message, type="upstream_error", code="upstream_timeout")


def database_unavailable() -> GatewayError:
    """A lookup the gateway has not cached while its database is down."""
    return GatewayError(
        503,
        "The gateway cannot reach its database right now; retry in a few seconds.",
        type="server_error",
        code="service_unavailable",
        headers={"retry-after": "5"},
    )


def unexpected() -> GatewayError:
    """A fault of the gateway itself (logged where it happened)."""
    return GatewayError(500, "The gateway failed unexpectedly.", type="server_error")
