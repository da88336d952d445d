"""The gateway's own Django ASGI handler (`blaxel_console.asgi` routes `/run/` here).

It differs from Django's `ASGIHandler` where the gateway needs it to:

* Middleware: `settings.GATEWAY_MIDDLEWARE` (none by default) instead of the console's
  stack — sessions, CSRF, messages, allauth and htmx have nothing to do on an API call
  (the Playground's session + CSRF check is done by the view itself).
* The body: refused with a 413 as soon as its declared `Content-Length` or the bytes
  actually received exceed `settings.GATEWAY_MAX_BODY_BYTES`, with a 408 when it has
  not all arrived within `settings.GATEWAY_BODY_READ_TIMEOUT` seconds (a slow-loris
  body), and kept in memory (it is bounded) instead of a spooled temporary file.
* No per-request thread: Django runs each request in its own `ThreadSensitiveContext`
  and sends `request_started` / `request_finished`, whose receivers recycle database
  connections. The gateway makes no database query per call; its cache loaders run on
  one shared thread and recycle that thread's connection themselves
  (`lookups._fresh_connection`).

Disconnects are handled like Django's: the response is produced while listening for
`http.disconnect`, and a disconnect cancels it (which cancels the provider call). A call
the server cancels — its graceful shutdown ran out (`--timeout-graceful-shutdown`) — is
ended the same way and recorded as `server_shutdown`; the ASGI lifespan shutdown waits
for such calls (`calls_finished`) before it sends the last usage records.
"""

import asyncio
import contextlib
import io
import logging

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix, set_urlconf

from . import errors
from .views import admit_request

logger = logging.getLogger(__name__)

GATEWAY_URLCONF = "models_api.gateway.urlconf"


class _GatewayMiddlewareSettings:
    """Django's settings, except that MIDDLEWARE is GATEWAY_MIDDLEWARE."""

    def __getattr__(self, name):
        if name == "MIDDLEWARE":
            return settings.GATEWAY_MIDDLEWARE
        return getattr(settings, name)


class _BodyTooLarge(Exception):
    pass


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class GatewayASGIHandler(ASGIHandler):
    def __init__(self):
        super().__init__()
        self._calls: set[asyncio.Task] = set()  # the calls being served

    def load_middleware(self, is_async=False):
        # Django's own loader, reading GATEWAY_MIDDLEWARE: it reads the `settings` of its
        # module, swapped here only while the chain is built (once, at start-up).
        console_settings = base.settings
        base.settings = _GatewayMiddlewareSettings()
        try:
            super().load_middleware(is_async=is_async)
        finally:
            base.settings = console_settings

    def resolve_request(self, request):
        # Admission (`views.admit_request`) resolved the path already: once per call.
        set_urlconf(request.urlconf)
        return request.resolver_match

    async def get_response_async(self, request):
        # Django's, minus its "WARNING django.request" line for every 4xx/5xx answer,
        # written from a worker thread: each gateway call leaves a usage record instead,
        # and a burst of 401s or provider 429s must not cost a thread hop and a log line
        # per call. Unexpected errors are still logged by the view.
        set_urlconf(GATEWAY_URLCONF)
        response = await self._middleware_chain(request)
        response._resource_closers.append(request.close)
        return response

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"The gateway serves HTTP only, not {scope['type']}.")
        call = asyncio.current_task()
        self._calls.add(call)
        try:
            await self.handle(scope, receive, send)
        finally:
            self._calls.discard(call)

    async def calls_finished(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the calls still being served (at shutdown:
        those the server cancelled, while they record their usage)."""
        if self._calls:
            await asyncio.wait(list(self._calls), timeout=timeout)

    async def handle(self, scope, receive, send):
        limit = settings.GATEWAY_MAX_BODY_BYTES
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self.send_response(errors.too_large(limit).response(), send)
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, io.BytesIO())
        if request is None:
            await self.send_response(error_response, send)
            return
        request.urlconf = GATEWAY_URLCONF  # resolved against the gateway's URLs only
        # Who calls what is decided from the headers, before any body is read.
        try:
            request.admitted_call = await admit_request(request)
        except errors.GatewayError as error:
            await self.send_response(error.response(), send)
            return
        except Exception:
            logger.exception("gateway: unexpected error")
            await self.send_response(errors.unexpected().response(), send)
            return
        try:
            body = await self._read_body(receive, limit)
        except RequestAborted:
            if request.admitted_call:
                request.admitted_call.refused(499, "client_disconnected")
            return
        except (_BodyTooLarge, TimeoutError) as refusal:
            if isinstance(refusal, _BodyTooLarge):
                error = errors.too_large(limit)
            else:
                error = errors.body_too_slow(settings.GATEWAY_BODY_READ_TIMEOUT)
            if request.admitted_call:
                error = request.admitted_call.refused_with(error)
            await self.send_response(error.response(), send)
            return
        # Read once, here; the view forwards these bytes (Django's `request.body` would
        # also refuse anything over DATA_UPLOAD_MAX_MEMORY_SIZE, a console setting).
        request.raw_body = body

        async def respond():
            response = await self.run_get_response(request)
            # The caller may go away while the answer is being sent.
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)

        # As Django does: produce the answer while listening for a disconnect, and
        # cancel it when the caller goes away first.
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        responder = asyncio.create_task(respond())
        try:
            await asyncio.wait([listener, responder], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The server ended the call (its shutdown grace ran out): so says its record.
            if request.admitted_call:
                request.admitted_call.error_type = "server_shutdown"
            for task in (listener, responder):
                task.cancel()
            await asyncio.gather(listener, responder, return_exceptions=True)
            raise
        for task in (listener, responder):
            if task.done():
                with contextlib.suppress(RequestAborted, asyncio.CancelledError):
                    task.result()
            else:
                task.cancel()
                with contextlib.suppress(RequestAborted, asyncio.CancelledError):
                    await task

    async def _read_body(self, receive, limit: int) -> bytes:
        """The whole body; TimeoutError when it takes longer than the body-read timeout
        in all (not per chunk: a trickle of one byte a second would pass that)."""
        async with asyncio.timeout(settings.GATEWAY_BODY_READ_TIMEOUT):
            return await self._receive_body(receive, limit)

    async def _receive_body(self, receive, limit: int) -> bytes:
        parts = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted()
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _BodyTooLarge()
                parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)
