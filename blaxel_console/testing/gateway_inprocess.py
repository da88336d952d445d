"""The gateway's ASGI handler called in-process, with no server: the `handler` fixture,
and `call(handler, path, ...)`, one request through it."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi there"}]}


class InProcessGateway:
    """The gateway's ASGI handler, called from one worker thread of the test.

    async_to_sync() in that thread runs the handler on an event loop and keeps the
    handler's thread-sensitive database work (the cache loaders) on that thread, so
    `queries_during` counts every query a call makes. (Not the test thread itself: once
    a Playwright page has been used in the session, an event loop runs there.)"""

    def __init__(self):
        from models_api.gateway.handler import GatewayASGIHandler

        self.handler = GatewayASGIHandler()
        self._pool = ThreadPoolExecutor(1)
        self._thread = self._pool.submit(threading.current_thread).result()

    def in_thread(self, function):
        if threading.current_thread() is self._thread:
            return function()
        return self._pool.submit(function).result()

    def queries_during(self, function):
        """(what `function()` returned, the queries it made on the worker thread)"""

        def counted():
            with CaptureQueriesContext(connection) as captured:
                result = function()
            return result, captured.captured_queries

        return self.in_thread(counted)

    def close(self):
        self.in_thread(connections.close_all)
        self._pool.shutdown()


@pytest.fixture
def handler():
    gateway = InProcessGateway()
    yield gateway
    gateway.close()


def call(gateway, path="chat/completions", *, key=None, body=CHAT, method="POST", headers=None):
    """One request through the gateway handler (see `InProcessGateway`)."""
    headers = dict(headers or {})
    if key:
        headers["Authorization"] = f"Bearer {key}"
    content = json.dumps(body).encode() if isinstance(body, dict) else body

    from models_api.gateway import upstream

    async def send():
        transport = httpx.ASGITransport(app=gateway.handler)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                return await client.request(
                    method,
                    f"/run/acme/models/my-gpt/v1/{path}",
                    headers=headers,
                    content=content if method == "POST" else None,
                )
        finally:
            await upstream.close_client()  # the gateway's client of this event loop

    return gateway.in_thread(async_to_sync(send))
