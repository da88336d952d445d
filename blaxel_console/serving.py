"""How the ASGI server reads requests: uvicorn's httptools protocol, plus a deadline and
a size limit for a request's headers.

uvicorn closes a keep-alive connection that stays idle `--timeout-keep-alive` seconds
after an answer, but it sets no deadline on a connection that was just opened, nor on
headers sent a byte at a time (a slow loris): such connections would stay open for as
long as the client likes, each holding a file descriptor. With this protocol a connection
must deliver a request's complete headers within `settings.HTTP_HEADERS_TIMEOUT`
seconds of its opening (or of the first byte of its next request), or it is closed.
httptools itself sets no bound on the size of headers (uvicorn's
`--h11-max-incomplete-event-size` applies to h11 only): headers still incomplete after
`settings.HTTP_MAX_HEADER_BYTES` bytes get a 400 and the connection is closed.

Started with `uvicorn --http blaxel_console.serving:HttpToolsProtocol` (see dev.py).
"""

from asyncio import TimerHandle

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as UvicornHttpTools


class HttpToolsProtocol(UvicornHttpTools):
    headers_deadline: TimerHandle | None = None  # set while a request's headers are read
    header_bytes = 0  # received while reading them

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._start_headers_deadline()

    def data_received(self, data: bytes) -> None:
        reading_headers = self.headers_deadline is not None
        super().data_received(data)
        if reading_headers and self.headers_deadline is not None:  # still incomplete
            self.header_bytes += len(data)
            if self.header_bytes > settings.HTTP_MAX_HEADER_BYTES:
                self._cancel_headers_deadline()
                self.send_400_response("Request headers too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.headers_deadline is None:
            self._start_headers_deadline()

    def on_headers_complete(self) -> None:
        self._cancel_headers_deadline()
        self.header_bytes = 0
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._cancel_headers_deadline()
        super().connection_lost(exc)

    def _start_headers_deadline(self) -> None:
        self._cancel_headers_deadline()
        self.headers_deadline = self.loop.call_later(
            settings.HTTP_HEADERS_TIMEOUT, self._headers_too_slow
        )

    def _cancel_headers_deadline(self) -> None:
        if self.headers_deadline is not None:
            self.headers_deadline.cancel()
            self.headers_deadline = None

    def _headers_too_slow(self) -> None:
        self.headers_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
