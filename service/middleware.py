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

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.admission import Admission
from service.errors import GatewayError, InternalError, PayloadTooLarge, Unauthorized, error_body
from service.settings import Settings

log = logging.getLogger("rare.access")
errors_log = logging.getLogger("rare.gateway")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Made request ids: 32 hex characters, a random per-process prefix and a counter (unique without a syscall each)
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()
DRAIN_BYTES = 2 * 1024 * 1024  # a refused body up to this size is read before the refusal is sent
DRAIN_SECONDS = 2.0


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, admission: Admission) -> None:
        self.app = app
        self.settings = settings
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _SAFE_ID.match(given) else f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        # whether the caller showed the key: only then do /readyz and /v1/models say why a backend is not ready
        scope["state"]["key_shown"] = self.settings.api_key is not None and self._authorized(scope, headers, False)
        status = {"code": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            rejection = self._reject(scope, headers)
            if rejection is not None:
                await _drain(receive, headers)  # so that the client, still sending, gets to read the refusal
                await _send_error(send_with_id, rejection, request_id)
            else:
                await self._call_app(scope, receive, send_with_id, status, request_id)
        finally:  # a crash too gets its access-log line and its 500 in the latency histogram (5xx alerts)
            self._observe(scope, status["code"], time.perf_counter() - start, request_id)

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, status: dict, request_id: str) -> None:
        """The app, with the body counted; an unexpected exception is answered here, as a typed 500 with the request
        id, and logged with its traceback (a response already begun can only be cut off)."""
        held = [0]
        try:
            await self.app(scope, self._limited(receive, held), send)
        except Exception:
            status["code"] = 500
            if status["started"]:
                raise
            errors_log.exception("unhandled error on %s %s (request %s)", scope["method"], scope["path"], request_id)
            await _send_error(send, InternalError("internal error; quote the request id when reporting it"), request_id)
        finally:
            self.admission.release_body(held[0])

    def _reject(self, scope: Scope, headers: dict[str, str]) -> GatewayError | None:
        """Refuse before reading the body: no or wrong API key (401), declared size over the limit (413), too many
        requests recognized or body bytes held by this worker (429)."""
        if not self._authorized(scope, headers, exempt=True):
            return Unauthorized("missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
        length = headers.get("content-length", "")
        declared = int(length) if length.isdigit() else 0
        limit = self.settings.max_request_bytes
        if declared > limit:
            return PayloadTooLarge(
                f"request body of {length} bytes exceeds the limit of {limit} (RARE_MAX_REQUEST_BYTES)"
            )
        return self.admission.overloaded(declared)

    def _authorized(self, scope: Scope, headers: dict[str, str], exempt: bool) -> bool:
        """With RARE_API_KEY set, every path but the exempt ones needs the key (compared in constant time):
        ``X-API-Key: KEY``, or ``Authorization: Bearer KEY`` with the scheme in any case (RFC 9110)."""
        key = self.settings.api_key
        if key is None or (exempt and _exempt(scope["path"], self.settings.auth_exempt_paths)):
            return True
        supplied = headers.get("x-api-key")
        if not supplied:
            scheme, _, token = headers.get("authorization", "").strip().partition(" ")
            supplied = token.strip() if scheme.lower() == "bearer" else ""
        return hmac.compare_digest(supplied.encode(), key.get_secret_value().encode())

    def _limited(self, receive: Receive, held: list[int]) -> Receive:
        """Count body bytes as they stream in, against the request's limit and the worker's budget (``held[0]``:
        what this request holds, released when it ends); a body without Content-Length is cut off too."""
        limit = self.settings.max_request_bytes

        async def receive_limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                size = len(message.get("body", b""))
                if held[0] + size > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes (RARE_MAX_REQUEST_BYTES)")
                self.admission.take_body(size)
                held[0] += size
            return message

        return receive_limited

    @staticmethod
    def _observe(scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        metrics.REQUEST_DURATION.labels(template, scope["method"], str(status)).observe(seconds)
        log.info("%s %s %s %d %.1fms", request_id, scope["method"], scope["path"], status, seconds * 1000)


def _exempt(path: str, exempt: list[str]) -> bool:
    """``path`` is one of ``exempt``, or below one that ends with a slash."""
    return path in exempt or any(e.endswith("/") and path.startswith(e) for e in exempt)


async def _drain(receive: Receive, headers: dict[str, str]) -> None:
    """Read and drop up to DRAIN_BYTES of a refused request's body, for at most DRAIN_SECONDS.

    Closing a connection while the client is still sending makes its TCP stack answer with a reset, and most
    clients then report the reset, never the 429 or 413 we sent. A client that asked ``Expect: 100-continue`` has
    sent nothing yet: it gets the refusal instead of the 100 and keeps its body.
    """
    if headers.get("expect", "").lower() == "100-continue":
        return
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > DRAIN_BYTES:
        return  # too much to read for a refusal: the client may see the connection cut
    drained = 0
    with anyio.move_on_after(DRAIN_SECONDS):
        while drained <= DRAIN_BYTES:
            message = await receive()
            drained += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                break


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
