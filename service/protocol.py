"""The gateway's HTTP/1.1 connection handling: uvicorn's httptools protocol with deadlines and a header size limit.

Uvicorn waits for ever for a request's headers and body, and lets headers grow without bound. A client that
stalls, or never stops sending headers, would hold a connection and its buffers for as long as it likes. Here:

- the request line and headers must arrive within ``header_timeout_s`` and ``max_header_bytes``: otherwise 408
  or 431, and the connection is closed;
- the body must arrive within ``body_timeout_s`` of the headers: otherwise 408 and closed;
- an idle keep-alive connection is closed after ``keepalive_timeout_s`` (uvicorn's own timer);
- at shutdown, a connection still sending its request is answered 503 and closed at once, instead of holding
  the shutdown up and then getting uvicorn's plain-text 500.

Refusals are the gateway's JSON error bodies. Limits come from the ``RARE_*`` settings of this process.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service import metrics
from service.errors import error_body
from service.settings import Settings


@cache
def _settings() -> Settings:
    return Settings()


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.limits = _settings()
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, 408, "request_timeout", "the request headers did not arrive in time")

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._reading_headers and self._header_bytes > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            self._refuse(
                431, "header_too_large", f"request line and headers exceed {limit} bytes (RARE_MAX_HEADER_BYTES)"
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        if self._deadline is None:  # a keep-alive connection's next request
            self._arm(
                self.limits.header_timeout_s, 408, "request_timeout", "the request headers did not arrive in time"
            )

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._reading_headers, self._header_bytes = False, 0
        self._arm(self.limits.body_timeout_s, 408, "request_timeout", "the request body did not arrive in time")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._reading_headers, self._header_bytes = True, 0  # what comes next on this connection is a new request

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        between = self.cycle is None or self.cycle.response_complete  # no request of this connection is in the app
        if (between and self._reading_headers and self._header_bytes) or (
            self.cycle is not None and self.cycle.more_body
        ):
            self._refuse(503, "shutting_down", "the gateway is shutting down; retry on another instance")
        else:
            super().shutdown()

    def _arm(self, seconds: float, status: int, code: str, message: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._refuse, status, code, message)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer with a JSON error (unless a response has begun) and close the connection."""
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:  # keep-alive: new
            metrics.ERRORS.labels(code).inc()
            body = json.dumps(error_body(code, message, None)).encode()
            retry = f"retry-after: {self.limits.retry_after_s}\r\n" if status == 503 else ""  # another instance
            head = (
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{retry}connection: close\r\n\r\n"
            )
            self.transport.write(head.encode("latin-1") + body)
        if self.cycle is not None:
            self.cycle.keep_alive = False
        self.transport.close()
