"""The one SSRF-guarded way out: every outbound HTTP call the project makes — the
gateway's calls to providers, and the model lists fetched for catalogs, key checks and
deploy checks (`fetch`) — goes through `GuardedTransport`, whose resolver judges the
very addresses it connects to (no DNS-rebinding window between a check and the call).

httpx is the API, aiohttp underneath.

Chosen by the benchmark (bench/): with httpx's default transport (httpcore), every call
walks the whole connection pool and polls each pooled socket to see whether it expired,
which cost about 4 ms of CPU per call at 32 concurrent calls; `httpx-aiohttp`'s
transport over aiohttp's connector costs about 1 ms for the same calls.

`httpx_aiohttp.AiohttpTransport` translates aiohttp's errors into httpx's by class, and
some come out wrong for a gateway (a refused connection becomes a `ConnectTimeout`, so a
504 instead of a 502; a provider that hangs up mid-answer becomes a timeout too). The
subclass below translates them again from the original aiohttp error, and gives the
session aiohttp's `DummyCookieJar`: a shared client must never keep cookies, and its
connector the SSRF guard's resolver.
"""

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from .ssrf import UnsafeUpstreamError, judge_addresses


class GuardedResolver(AbstractResolver):
    """aiohttp's own resolver, then the SSRF guard on what it answered: the addresses
    judged are the ones the connector connects to (no DNS-rebinding window between the
    gateway's check and the call). A refused host fails to connect like an unreachable
    one (a 502, or the next connection). IP literals are not resolved: the call-time
    check judged them already."""

    def __init__(self):
        self._inner = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        try:
            judge_addresses(host, [result["host"] for result in results])
        except UnsafeUpstreamError as error:
            raise OSError(str(error)) from error
        return results

    async def close(self) -> None:
        await self._inner.close()


def _translated(error: BaseException) -> Exception | None:
    """The httpx error an aiohttp error (or a bare timeout) stands for."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(error))
    if isinstance(error, (aiohttp.ServerTimeoutError, TimeoutError)):
        return httpx.ReadTimeout(str(error) or "The provider did not answer in time.")
    if isinstance(error, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(error))
    if isinstance(error, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return httpx.RemoteProtocolError(str(error))
    if isinstance(error, aiohttp.ClientError):
        return httpx.ReadError(str(error))
    return None


def _retranslate(error: Exception) -> Exception:
    original = error.__cause__ if isinstance(error, httpx.HTTPError) else error
    return _translated(original) or error


class _Stream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream):
        self._inner = inner

    async def __aiter__(self):
        try:
            async for chunk in self._inner:
                yield chunk
        except (httpx.HTTPError, aiohttp.ClientError, TimeoutError) as error:
            raise _retranslate(error) from error

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(AiohttpTransport):
    """`AiohttpTransport` with a cookie-less session sized by `limits`, and the errors a
    gateway needs to tell apart (connect error, timeout, provider hung up)."""

    def get_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(),
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    def connection_counts(self) -> tuple[int, int]:
        """(in use, idle in the pool) connections of this transport, for the gauges of
        `GET /metrics`. aiohttp keeps these in its connector and has no public count: read
        at scrape time only, never on a call's path."""
        session = self.client
        if not isinstance(session, aiohttp.ClientSession) or session.closed:
            return 0, 0
        connector = session.connector
        active = len(getattr(connector, "_acquired", ()))
        idle = sum(len(pooled) for pooled in getattr(connector, "_conns", {}).values())
        return active, idle

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Sent once more when the server hung up without a byte of answer: a pooled
        keep-alive connection it closed as the request went out (aiohttp retries that by
        itself for idempotent methods only; OpenAI's SDKs retry such errors too). The
        body is bytes, so it can be sent again."""
        try:
            try:
                response = await super().handle_async_request(request)
            except (httpx.HTTPError, aiohttp.ClientError) as error:
                original = error.__cause__ if isinstance(error, httpx.HTTPError) else error
                if not isinstance(original, aiohttp.ServerDisconnectedError):
                    raise
                response = await super().handle_async_request(request)
        except (httpx.HTTPError, aiohttp.ClientError, TimeoutError) as error:
            raise _retranslate(error) from error
        response.stream = _Stream(response.stream)
        return response


def fetch(method: str, url: str, *, headers: dict, timeout: httpx.Timeout) -> httpx.Response:
    """One call from sync code (tasks, screens), through `GuardedTransport`, redirects
    not followed (one could lead past the guard); the answer's body is read. Raises
    httpx's errors; a refused address is a `ConnectError`."""

    async def call() -> httpx.Response:
        transport = GuardedTransport(limits=httpx.Limits(max_connections=1))
        async with httpx.AsyncClient(
            transport=transport, timeout=timeout, follow_redirects=False
        ) as client:
            response = await client.request(method, url, headers=headers)
            await response.aread()
            return response

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call())
    # This thread runs an event loop already (async code calling sync code): the call
    # gets a loop of its own on another thread.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, call()).result()
