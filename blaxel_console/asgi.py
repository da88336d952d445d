"""ASGI entry point: `uvicorn blaxel_console.asgi:application`.

Two Django handlers in one process: `/run/…` (the inference gateway) goes to the
gateway's handler, which runs none of the console's middleware and enforces the body
limit while reading; everything else to Django's standard handler with the console's
full middleware stack. The application also speaks the ASGI lifespan protocol, to close
the gateway's pooled HTTP client and write the last usage records on shutdown.
"""

import asyncio
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blaxel_console.settings")

console_application = get_asgi_application()  # sets Django up; imports below need it

from blaxel_console import background  # noqa: E402
from blaxel_console.log_filters import install_on_server_loggers  # noqa: E402
from models_api.gateway import upstream  # noqa: E402
from models_api.gateway.handler import GatewayASGIHandler  # noqa: E402
from models_api.usage import services as usage  # noqa: E402

logger = logging.getLogger(__name__)

GATEWAY_PREFIX = "/run/"


class Application:
    def __init__(self, console, gateway):
        self.console = console
        self.gateway = gateway

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            if scope["path"].startswith(GATEWAY_PREFIX):
                await self.gateway(scope, receive, send)
            else:
                await self.console(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        else:
            await self.console(scope, receive, send)

    async def lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    # Calls the server cancelled at the end of its shutdown grace record
                    # their usage first.
                    await self.gateway.calls_finished(5.0)
                    await usage.aflush(5.0)
                    await upstream.close_client()
                    await asyncio.to_thread(background.flush_all, 5.0)
                except Exception:
                    logger.exception("gateway shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return


install_on_server_loggers()
application = Application(console_application, GatewayASGIHandler())
