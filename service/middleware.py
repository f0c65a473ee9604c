"""One pure-ASGI middleware for what every request needs: a request id, the API key, the body-size limit, load
shedding, the in-flight gauge, the latency histogram and an access-log line."""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.errors import GatewayError, Overloaded, PayloadTooLarge, Unauthorized, error_body
from service.settings import Settings

log = logging.getLogger("rare.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Made request ids: 32 hex characters, a random per-process prefix and a counter (unique without a syscall each)
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _SAFE_ID.match(given) else f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        rejection = self._reject(scope, headers)
        if rejection is not None:
            await _send_error(send_with_id, rejection, request_id)
        else:
            self.in_flight += 1
            metrics.IN_FLIGHT.inc()
            try:
                await self.app(scope, self._limited(receive), send_with_id)
            finally:
                self.in_flight -= 1
                metrics.IN_FLIGHT.dec()
        self._observe(scope, status["code"], time.perf_counter() - start, request_id)

    def _reject(self, scope: Scope, headers: dict[str, str]) -> GatewayError | None:
        """Refuse before reading the body: no or wrong API key (401), declared size over the limit (413), too many
        requests in flight (429)."""
        if not self._authorized(scope, headers):
            return Unauthorized("missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
        length = headers.get("content-length", "")
        limit = self.settings.max_request_bytes
        if length.isdigit() and int(length) > limit:
            return PayloadTooLarge(
                f"request body of {length} bytes exceeds the limit of {limit} (RARE_MAX_REQUEST_BYTES)"
            )
        if self.in_flight >= self.settings.max_in_flight:
            return Overloaded(
                f"{self.in_flight} requests in flight; retry later", retry_after=self.settings.retry_after_s
            )
        return None

    def _authorized(self, scope: Scope, headers: dict[str, str]) -> bool:
        """With RARE_API_KEY set, every path but the exempt ones needs the key (compared in constant time)."""
        key = self.settings.api_key
        if key is None or scope["path"] in self.settings.auth_exempt_paths:
            return True
        supplied = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(supplied.encode(), key.get_secret_value().encode())

    def _limited(self, receive: Receive) -> Receive:
        """Count body bytes as they stream in; a body without Content-Length is cut off at the limit too."""
        received = 0
        limit = self.settings.max_request_bytes

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes (RARE_MAX_REQUEST_BYTES)")
            return message

        return receive_limited

    @staticmethod
    def _observe(scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        metrics.REQUEST_DURATION.labels(template, scope["method"], str(status)).observe(seconds)
        log.info("%s %s %s %d %.1fms", request_id, scope["method"], scope["path"], status, seconds * 1000)


async def _send_error(send: Send, error: GatewayError, request_id: str) -> None:
    metrics.ERRORS.labels(error.code).inc()
    body = json.dumps(error_body(error.code, error.message, request_id)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((k.lower().encode(), v.encode()) for k, v in error.headers().items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
