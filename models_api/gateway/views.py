"""The gateway view: `/run/{workspace}/models/{model_api}/{path}` (DESIGN.md §7).

Order of checks: the caller (401), the workspace and the caller's access to it (403, the
same answer whether the workspace does not exist or is not the caller's), the model API
(404), the path (404) and method (405), enabled (403), the usage policies (429,
`models_api.policies.enforcement`), the body (400); then the provider. Anything the
provider answers — errors included — passes through with its status and body.

How the model is chosen: the model API's configured model is always the one called. A
request that names another model (or none) is sent with the configured one, and the
answer says so in its `model` field. `GET …/v1/models` lists exactly that one model:
the provider's own entry for it when the provider lists it, otherwise an entry built
from the configuration.
"""

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

import httpx
from adrf.views import APIView
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import resolve
from django.utils import timezone

from integrations.providers import UsageLocation, get_provider
from workspaces.principals import Principal

from ..policies.enforcement import call_token_increments, check_policies
from ..policies.limits import PoliciesUnavailable
from ..usage.services import record_call
from . import auth, errors, estimates, lookups, metrics
from .caches import routing_cache
from .lookups import Route
from .streaming import (
    InvalidStream,
    SSEUsageReader,
    Tokens,
    plain_answer_is_valid,
    usage_from_body,
)
from .upstream import (
    forward_headers,
    headers_for_client,
    only_configured_model,
    open_upstream,
    prepare_body,
    upstream_error_type,
)

logger = logging.getLogger(__name__)

_DEFAULT_USAGE = UsageLocation()
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
REQUEST_ID_HEADER = "X-Blaxel-Request-Id"


@dataclass(slots=True)
class Call:
    """What one call's usage record will say."""

    route: Route
    principal: Principal
    path: str
    started: float = field(default_factory=time.perf_counter)
    time: object = field(default_factory=timezone.now)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: int = 0
    ttfb_ms: float | None = None
    tokens: Tokens | None = None
    streamed: bool = False
    error_type: str = ""
    connection_name: str = ""
    request_body: bytes = b""  # kept by reference, for the rare token estimate
    recorded: bool = False  # one record per call, whichever path ends it

    def __post_init__(self) -> None:
        metrics.call_started()

    def first_byte(self) -> None:
        if self.ttfb_ms is None:
            self.ttfb_ms = (time.perf_counter() - self.started) * 1000

    def refused(self, status: int, error_type: str) -> None:
        """Record a call that ended before reaching the provider."""
        self.status, self.error_type = status, error_type
        self.record()

    def refused_with(self, error: errors.GatewayError) -> errors.GatewayError:
        """Record a call answered with the gateway's `error`, which names the record too."""
        self.refused(error.status, error.error_type)
        error.headers = {**error.headers, REQUEST_ID_HEADER: self.request_id}
        return error

    def record(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        metrics.call_recorded()
        tokens = self.tokens or Tokens()
        # The record as the usage pipeline's JSON-ready payload (`record_payload`), built
        # directly: no model instance per call.
        counter_increments = call_token_increments(
            self.route.model_api_id,
            self.route.policy_limits,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            total_tokens=tokens.total,
        )
        record_call(
            {
                "request_id": self.request_id,
                "time": self.time.isoformat(),
                "workspace_id": self.route.workspace_id,
                "model_api_id": self.route.model_api_id,
                "model_api_name": self.route.model_api_name,
                "caller": self.principal.label[:254],
                "api_key_prefix": self.principal.api_key_prefix,
                "path": self.path[:100],
                "status_code": self.status,
                "latency_ms": (time.perf_counter() - self.started) * 1000,
                "ttfb_ms": self.ttfb_ms,
                "input_tokens": tokens.input,
                "output_tokens": tokens.output,
                "total_tokens": tokens.total,
                "tokens_estimated": tokens.estimated,
                "streamed": self.streamed,
                "error_type": self.error_type[:64],
                "connection_name": self.connection_name,
                "provider": self.route.provider_id,
                "model": self.route.model,
                "cached_input_tokens": tokens.cached_input,
            },
            counter_increments,
        )


class GatewayView(APIView):
    """An adrf (async DRF) view with none of DRF's per-request machinery: the gateway
    authenticates from the headers itself through in-process caches, reads the raw body
    once, and answers in OpenAI's shape, so DRF's request wrapper, authentication and
    permission classes, parsers, content negotiation and adrf's thread hop to run them
    would only add latency to every call."""

    schema = None  # the gateway speaks OpenAI's API, not the /v0 one: not in the schema
    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()
    throttle_classes = ()
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    async def _any_method(self, request, *args, **kwargs):  # pragma: no cover - see dispatch
        raise NotImplementedError

    get = post = put = patch = delete = head = options = _any_method

    async def async_dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs, self.request = args, kwargs, request
        try:
            return await proxy(request, **kwargs)
        except errors.GatewayError as error:
            return error.response()
        except Exception:
            logger.exception("gateway: unexpected error")
            return errors.unexpected().response()


async def not_found(request, *args, **kwargs):
    """Anything under /run/ that is not an endpoint: a 404 an OpenAI SDK understands."""
    return errors.not_found(
        "Not a model API endpoint: use /run/{workspace}/models/{model_api}/v1/….", "not_found"
    ).response()


async def admit(request, *, workspace: str, model_api: str, path: str) -> Call:
    """What the request line and headers decide: the caller (401), the workspace (403)
    and the model API (404). The handler asks before it reads any body, so a caller
    without access cannot make the gateway receive and hold one."""
    principal = await auth.authenticate(request)
    auth.check_workspace_header(request, workspace)
    workspace_id, _role = await auth.role_in_workspace(principal, workspace)
    auth.check_scope(principal, model_api)
    route = await routing_cache.get(
        ("route", workspace_id, model_api), lambda: lookups.route_for(workspace_id, model_api)
    )
    if route is None:
        raise errors.not_found(
            f"No model API named “{model_api}” in the workspace “{workspace}”.",
            "model_api_not_found",
        )
    return Call(route=route, principal=principal, path=path)


async def admit_request(request) -> Call | None:
    """`admit` for a request addressed to a model API endpoint; None for any other path
    under /run/ (the view answers those)."""
    match = request.resolver_match = resolve(request.path_info, urlconf=request.urlconf)
    if match.url_name not in ("gateway", "gateway-base"):
        return None
    return await admit(request, **match.kwargs)


async def proxy(request, *, workspace: str, model_api: str, path: str) -> HttpResponse:
    call = request.admitted_call or await admit(
        request, workspace=workspace, model_api=model_api, path=path
    )
    try:
        response = await _forward(request, call.route, path, call)
    except errors.GatewayError as error:
        call.refused_with(error)
        raise
    except asyncio.CancelledError:
        # The caller went away before the answer started.
        call.refused(499, call.error_type or "client_disconnected")
        raise
    return response


def _check_request(request, route: Route, path: str) -> str:
    """The HTTP method the path takes, after the path / method / enabled checks."""
    if path not in route.forward_paths:
        served = ", ".join(f"/{item}" for item in sorted(route.forward_paths))
        raise errors.not_found(
            f"The path “/{path}” is not served by this model API (served: {served}).",
            "path_not_found",
        )
    # The model list is read, every other endpoint is a POST; nothing else is forwarded
    # (OpenAI's GET /v1/chat/completions would list other people's stored completions).
    method = "GET" if path == route.models_path else "POST"
    if request.method != method:
        raise errors.GatewayError(
            405,
            f"Use {method} for /{path}.",
            code="method_not_allowed",
            headers={"Allow": method},
        )
    if not route.enabled:
        raise errors.forbidden(
            f"The model API “{route.model_api_name}” is disabled; enable it to call it.",
            "model_api_disabled",
        )
    return method


async def _forward(request, route: Route, path: str, call: Call) -> HttpResponse:
    method = _check_request(request, route, path)
    await _check_policies(route, call.principal)
    provider = get_provider(route.provider_id)
    usage_location = provider.usage if provider else _DEFAULT_USAGE
    prepared = None
    if method == "POST":
        call.request_body = request.raw_body
        prepared = prepare_body(
            request.raw_body,
            model=route.model,
            path=path,
            usage_request=usage_location.stream_usage_request,
        )
    upstream_response, upstream = await open_upstream(
        route,
        method=method,
        path=path,
        query=request.scope.get("query_string", b""),
        headers=forward_headers(request.scope["headers"], route.reserved_headers),
        content=prepared.content if prepared else None,
    )
    call.connection_name = upstream.connection_name
    call.status = upstream_response.status_code
    headers = headers_for_client(upstream_response)
    headers[REQUEST_ID_HEADER] = call.request_id
    if upstream_response.headers.get("content-type", "").startswith("text/event-stream"):
        strip_usage_chunk = bool(prepared and prepared.strip_usage_chunk)
        reader = SSEUsageReader(usage_location, strip_usage_chunk=strip_usage_chunk)
        return _streamed_answer(upstream_response, reader, headers, call)
    body = await _read_answer(upstream_response)
    call.first_byte()
    if upstream_response.status_code < 400:
        if method == "GET" and path == route.models_path:
            body = only_configured_model(body, route)
        call.tokens = usage_from_body(body, usage_location)
        if call.tokens is None and not plain_answer_is_valid(body, headers):
            raise errors.invalid_answer()
    else:
        call.error_type = upstream_error_type(upstream_response.status_code, body)
    call.record()
    return _plain_answer(body, upstream_response.status_code, headers)


async def _check_policies(route: Route, principal: Principal) -> None:
    try:
        denial = await check_policies(route, principal)
    except PoliciesUnavailable as error:
        raise errors.GatewayError(
            503,
            str(error),
            type="server_error",
            code="policy_check_unavailable",
            headers={"retry-after": str(error.retry_after)},
        ) from error
    if denial is not None:
        raise errors.GatewayError(
            429,
            denial.message,
            type=denial.error_type,
            code="rate_limit_exceeded",
            headers=denial.headers(),
        )


async def _read_answer(upstream_response: httpx.Response) -> bytes:
    try:
        return await upstream_response.aread()
    except httpx.TimeoutException as error:
        raise errors.gateway_timeout("The provider did not finish its answer in time.") from error
    except httpx.TransportError as error:
        raise errors.broken_off() from error
    finally:
        await upstream_response.aclose()


def _plain_answer(body: bytes, status: int, headers: dict) -> HttpResponse:
    response = HttpResponse(body, status=status)
    if "content-type" not in headers:
        del response["Content-Type"]
    for name, value in headers.items():
        response[name] = value
    response["Content-Length"] = str(len(body))
    return response


def _streamed_answer(upstream_response, reader: SSEUsageReader, headers: dict, call: Call):
    call.streamed = True
    response = RelayResponse(
        _relay(upstream_response, reader, call), status=upstream_response.status_code
    )
    for name, value in {**headers, **_STREAM_HEADERS}.items():
        response[name] = value
    return response


# --- streamed answers --------------------------------------------------------------------------


class RelayResponse(StreamingHttpResponse):
    """A streamed answer whose relay is closed as soon as Django stops reading it.

    Django iterates a wrapper around the relay generator and, when the caller goes
    away, closes only that wrapper; the relay (and the provider connection it holds)
    would then wait for garbage collection. Closing it here cancels the provider call
    at once.
    """

    async def __aiter__(self):
        relay = self._iterator
        try:
            async for chunk in relay:
                yield chunk
        finally:
            await relay.aclose()


def _stream_error_event(message: str, code: str) -> bytes:
    # The reader relays whole events only: this one starts at an event boundary.
    event = b"event: error\ndata: " + errors.error_body(message, type="upstream_error", code=code)
    return event + b"\n\n"


async def _relay(upstream_response: httpx.Response, reader: SSEUsageReader, call: Call):
    """Relay the provider's events as they arrive; record usage when done."""
    finished = False
    # Raw bytes pass through untouched; a compressed stream must be decoded first since
    # the caller is told nothing about the provider's encoding.
    encoded = upstream_response.headers.get("content-encoding", "identity") != "identity"
    chunks = upstream_response.aiter_bytes() if encoded else upstream_response.aiter_raw()
    try:
        async for chunk in chunks:
            call.first_byte()
            relayed = reader.feed(chunk)
            if relayed:
                yield relayed
        rest = reader.finish()
        if rest:
            yield rest
        finished = True
    except httpx.TimeoutException:
        call.error_type = "upstream_timeout"
        finished = True
        yield _stream_error_event("The provider stopped sending in time.", "upstream_timeout")
    except httpx.TransportError:
        call.error_type = "upstream_disconnected"
        finished = True
        yield _stream_error_event("The provider broke off its answer.", "upstream_disconnected")
    except InvalidStream as error:
        call.error_type = "upstream_invalid_response"
        finished = True
        message = f"The provider's stream could not be read: {error}."
        yield error.relayable + _stream_error_event(message, call.error_type)
    finally:
        if not finished and not call.error_type:
            call.error_type = "client_disconnected"
        await upstream_response.aclose()
        call.tokens = reader.tokens or _estimated_tokens(call, reader)
        if call.error_type == "client_disconnected":  # the caller closed: 499, as nginx logs
            call.status = 499
        call.record()


def _estimated_tokens(call: Call, reader: SSEUsageReader) -> Tokens | None:
    """No usage came (the caller or the provider cut the stream before it, or the
    provider never sends it): the tokens the provider bills, estimated (`estimates`)."""
    if call.status >= 400:
        return None
    input_tokens = estimates.prompt_tokens(call.request_body)
    output_tokens = reader.text_deltas
    total = input_tokens + output_tokens
    return Tokens(input=input_tokens, output=output_tokens, total=total, estimated=True)
