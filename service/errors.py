"""Typed errors and their HTTP mapping. Every error response is JSON: ``{"error": {"code", "message"}, ...}``.

Request problems are 4xx; backend problems map by cause (unavailable 503, overloaded 429, deadline 504, upstream
error 502); anything unexpected is a logged 500 that carries only the request id, never a stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

log = logging.getLogger("rare.gateway")


class GatewayError(Exception):
    """Base: an HTTP status, a stable machine-readable code and a human message."""

    status = 500
    code = "internal_error"
    retry_after: int | None = None

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retry_after is not None:
            self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """Response headers this error carries (Retry-After, WWW-Authenticate)."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


class InternalError(GatewayError):
    """A defect of ours: a 500 whose details go to the log, never to the client."""


class BadRequest(GatewayError):
    status, code = 400, "bad_request"


class NoImages(BadRequest):
    code = "no_images"


class MalformedBody(BadRequest):
    code = "malformed_body"


class Unauthorized(GatewayError):
    status, code = 401, "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class TooManyImages(GatewayError):
    status, code = 413, "too_many_images"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status, code = 415, "unsupported_media_type"


class Overloaded(GatewayError):
    status, code = 429, "overloaded"


class BackendUnavailable(GatewayError):
    status, code = 503, "backend_unavailable"


class BackendTimeout(GatewayError):
    status, code = 504, "backend_timeout"


class BackendFailed(GatewayError):
    status, code = 502, "backend_error"


def error_body(code: str, message: str, request_id: str | None) -> dict:
    return {"error": {"code": code, "message": message}, "request_id": request_id}


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def gateway_error_handler(request: Request, exc: GatewayError) -> JSONResponse:
    headers = exc.headers() or None
    if exc.status >= 500:
        log.warning("%s %s -> %d %s: %s", request.method, request.url.path, exc.status, exc.code, exc.message)
    return JSONResponse(error_body(exc.code, exc.message, _request_id(request)), exc.status, headers=headers)


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail), _request_id(request)), exc.status_code, headers=getattr(exc, "headers", None)
    )


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return JSONResponse(
        error_body("invalid_request", f"{where}: {first.get('msg', 'invalid')}", _request_id(request)), 422
    )


async def client_disconnect_handler(request: Request, exc: ClientDisconnect) -> Response:
    """The client hung up before its body arrived (a timeout, a load tester stopping): nothing to answer, no
    error of ours. Logged as 499, nginx's code for it, so it counts apart from the 4xx and 5xx."""
    log.info("%s %s: client disconnected before the request was read", request.method, request.url.path)
    return Response(status_code=499)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s (request %s)", request.method, request.url.path, _request_id(request))
    return JSONResponse(
        error_body("internal_error", "internal error; quote the request id when reporting it", _request_id(request)),
        500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, gateway_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(ClientDisconnect, client_disconnect_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
