"""Calling the provider: one pooled HTTP client per process, the credentials swap, the
configured model forced into the body, and fallback across a model API's connections.
"""

import asyncio
import http.cookiejar
import logging
import re
from dataclasses import dataclass

import httpx
import orjson
from django.conf import settings

from integrations.outbound import GuardedTransport
from integrations.ssrf import UnsafeUpstreamError, acheck_upstream

from . import errors
from .lookups import Route, Upstream

logger = logging.getLogger(__name__)

# --- the shared client ------------------------------------------------------------------------


class _NoCookies(http.cookiejar.CookiePolicy):
    """Never store nor send a cookie: one caller's provider session must not leak into
    another's call (the client is shared by every workspace)."""

    netscape = True
    rfc2965 = hide_cookie2 = False

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False

    def domain_return_ok(self, domain, request):
        return False

    def path_return_ok(self, path, request):
        return False


def _build_client() -> httpx.AsyncClient:
    connect = settings.GATEWAY_CONNECT_TIMEOUT
    read = settings.GATEWAY_READ_TIMEOUT
    limits = httpx.Limits(
        max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30.0
    )
    return httpx.AsyncClient(
        # aiohttp underneath: measured by bench/ (see integrations/outbound.py).
        transport=GuardedTransport(limits=limits),
        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
        cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
        follow_redirects=False,
    )


async def _send(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """`client.send(request, stream=True)` minus the client's per-call layers (auth,
    redirects, cookie extraction, event hooks), which a proxy does not use: the request
    goes straight to the client's transport with the client's timeouts. bench/ measured
    those layers at ~1 ms of CPU per call (the cookie jar alone builds two urllib
    adapters per response)."""
    request.extensions["timeout"] = client.timeout.as_dict()
    return await client._transport.handle_async_request(request)


# One client per event loop (a process serving with uvicorn has one loop; tests may
# run several): event loop id → (loop, client).
_clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}


def get_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    entry = _clients.get(id(loop))
    if entry is not None and entry[0] is loop:
        return entry[1]
    for key, (other_loop, _) in list(_clients.items()):
        if other_loop.is_closed():
            del _clients[key]
    client = _build_client()
    _clients[id(loop)] = (loop, client)
    return client


def connection_counts() -> dict[tuple[tuple[str, str], ...], int]:
    """This process's open connections to providers, in use and idle (a gauge)."""
    active = idle = 0
    for _loop, client in list(_clients.values()):
        transport = client._transport
        if isinstance(transport, GuardedTransport):
            in_use, pooled = transport.connection_counts()
            active, idle = active + in_use, idle + pooled
    return {(("state", "active"),): active, (("state", "idle"),): idle}


def event_loop_tasks() -> int:
    """Tasks alive on the event loops that serve gateway calls (a gauge)."""
    return sum(
        len(asyncio.all_tasks(loop))
        for loop, _client in list(_clients.values())
        if not loop.is_closed()
    )


async def close_client() -> None:
    """Close this loop's client (ASGI lifespan shutdown)."""
    entry = _clients.pop(id(asyncio.get_running_loop()), None)
    if entry is not None:
        await entry[1].aclose()


# --- request: headers and body -----------------------------------------------------------------

_DROPPED_HEADERS = frozenset(
    {
        b"authorization",
        b"cookie",
        b"host",
        b"content-length",  # recomputed for the body actually sent
        b"accept-encoding",  # the client negotiates what it can decode
        b"expect",
        b"x-csrftoken",
        b"forwarded",
        b"x-real-ip",
        # hop-by-hop (RFC 9110 §7.6.1)
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# The console's own headers (X-Blaxel-Authorization, X-Blaxel-Workspace), proxy
# credentials, and where the caller came from (the provider bills the workspace, it
# has no business knowing the workspace's users).
_DROPPED_PREFIXES = (b"x-blaxel-", b"proxy-", b"x-forwarded-")


def forward_headers(raw_headers, reserved: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
    """The caller's headers that may reach the provider (ASGI scope headers in)."""
    listed_by_connection: set[bytes] = set()
    for name, value in raw_headers:
        if name == b"connection":
            listed_by_connection.update(token.strip().lower() for token in value.split(b","))
    return [
        (name, value)
        for name, value in raw_headers
        if name not in _DROPPED_HEADERS
        and name not in reserved
        and name not in listed_by_connection
        and not name.startswith(_DROPPED_PREFIXES)
    ]


# OpenAI's wire format: these endpoints take `stream_options.include_usage` (the
# Responses API always reports usage in its `response.completed` event instead).
STREAM_USAGE_PATHS = frozenset({"v1/chat/completions", "v1/completions"})
_ESCAPED_ASCII = re.compile(rb"\\u00[4-7]")


@dataclass(slots=True)
class PreparedBody:
    content: bytes
    stream: bool
    # True when the gateway asked for the usage chunk and must hide it from the caller.
    strip_usage_chunk: bool


def _model_key_is_unambiguous(body: bytes) -> bool:
    # The bytes may pass through untouched only if the provider cannot read another
    # `model` out of them than the one checked: exactly one plain `"model"` token and no
    # escaped ASCII letters (`"mod\u0065l"`) that could spell a second one.
    return body.count(b'"model"') == 1 and _ESCAPED_ASCII.search(body) is None


def prepare_body(body: bytes, *, model: str, path: str, usage_request: dict) -> PreparedBody:
    """Force the model API's model; ask for usage in streamed answers.

    The body is parsed (orjson) to read `model` and `stream`, and written again only
    when something must change, so a request that already names the configured model
    passes through byte for byte. A body that is not a JSON object is refused: the
    gateway cannot vouch for the model it would call.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        raise errors.GatewayError(400, "The request body must be a JSON object.")
    rewrite = payload.get("model") != model or not _model_key_is_unambiguous(body)
    payload["model"] = model
    stream = payload.get("stream") is True
    strip = False
    if stream and path in STREAM_USAGE_PATHS:
        options = payload.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage") is True):
            payload["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                **usage_request,
            }
            rewrite = strip = True
    return PreparedBody(orjson.dumps(payload) if rewrite else body, stream, strip)


def upstream_url(upstream: Upstream, path: str, query: bytes) -> str:
    # `v1/chat/completions` → `{baseUrl}/chat/completions` (the base URL ends in /v1).
    relative = path[3:] if path.startswith("v1/") else path
    url = f"{upstream.base_url}/{relative}"
    if query:
        url += "?" + query.decode("latin-1")
    return url


# --- response headers -----------------------------------------------------------------------

_PASSED_BACK = frozenset({b"content-type", b"x-request-id", b"retry-after", b"retry-after-ms"})
_PASSED_BACK_PREFIXES = (b"x-ratelimit-", b"openai-")


def headers_for_client(response: httpx.Response) -> dict[str, str]:
    """The provider's headers the caller should see (never Set-Cookie, never the
    provider's framing or encoding headers)."""
    passed = {}
    for name, value in response.headers.raw:
        lower = name.lower()
        if lower in _PASSED_BACK or lower.startswith(_PASSED_BACK_PREFIXES):
            passed[lower.decode("latin-1")] = value.decode("latin-1")
    return passed


_ERROR_BODY_PARSE_LIMIT = 64 * 1024


def only_configured_model(body: bytes, route: Route) -> bytes:
    """The provider's model list narrowed to the model API's model (`GET …/v1/models`)."""
    try:
        listing = orjson.loads(body)
        entries = listing.get("data") or []
    except (orjson.JSONDecodeError, AttributeError):
        return body
    entry = next(
        (item for item in entries if isinstance(item, dict) and item.get("id") == route.model), None
    )
    if entry is None:
        entry = {"id": route.model, "object": "model", "created": 0, "owned_by": route.provider_id}
    return orjson.dumps({"object": "list", "data": [entry]})


def upstream_error_type(status: int, body: bytes) -> str:
    """What a usage record stores as the error of a provider's error answer."""
    if len(body) <= _ERROR_BODY_PARSE_LIMIT:
        try:
            error = orjson.loads(body).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            error = None
        if isinstance(error, dict):
            kind = error.get("code") or error.get("type")
            if isinstance(kind, str) and kind:
                return kind
    return f"upstream_{status}"


# --- sending, with fallback ----------------------------------------------------------------------


def _should_fall_back(status: int) -> bool:
    return status == 429 or status >= 500


async def open_upstream(
    route: Route,
    *,
    method: str,
    path: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    content: bytes | None,
) -> tuple[httpx.Response, Upstream]:
    """Send to the route's connections in order and return the first usable response
    with its body not yet read (`stream=True`; the caller must close it).

    The next connection is tried when one fails with a connection error, a timeout, a
    429 or a 5xx; the last one's answer is returned whatever it is. Nothing has been
    sent to the caller yet, so falling back is invisible to them.
    """
    if not route.upstreams:
        raise errors.bad_gateway("This model API has no usable integration connection.")
    client = get_client()
    last_error: errors.GatewayError | None = None
    last_index = len(route.upstreams) - 1
    for index, upstream in enumerate(route.upstreams):
        try:
            await acheck_upstream(upstream.base_url)
        except UnsafeUpstreamError as error:
            logger.warning("gateway: connection %s refused: %s", upstream.connection_name, error)
            last_error = errors.bad_gateway(f"The provider cannot be called: {error}")
            continue
        request = httpx.Request(
            method,
            upstream_url(upstream, path, query),
            headers=[*headers, *upstream.headers],
            content=content,
        )
        try:
            response = await _send(client, request)
        except httpx.TimeoutException:
            last_error = errors.gateway_timeout("The provider did not answer in time.")
            continue
        except httpx.TransportError as error:
            logger.info("gateway: %s unreachable: %r", upstream.connection_name, error)
            last_error = errors.bad_gateway("The provider could not be reached.")
            continue
        if index < last_index and _should_fall_back(response.status_code):
            await response.aclose()
            last_error = None
            continue
        return response, upstream
    assert last_error is not None
    raise last_error
