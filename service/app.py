"""``create_app(settings)``: the gateway application; ``python -m service`` serves it with uvicorn."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from prometheus_client import multiprocess

import rare
from service.admission import Admission
from service.backends.base import Backend
from service.backends.onnx import OnnxBackend
from service.backends.triton import TritonBackend
from service.docs import install_docs
from service.errors import install_error_handlers
from service.middleware import GatewayMiddleware
from service.pipeline import Pipeline
from service.routes import router
from service.settings import Settings

log = logging.getLogger("rare.gateway")


def build_backend(settings: Settings) -> Backend:
    return TritonBackend(settings) if settings.use_triton else OnnxBackend(settings)


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> FastAPI:
    """The gateway; ``backend`` defaults to the one the settings choose (tests pass a fake ``Backend``)."""
    settings = settings or Settings()
    backend = backend or build_backend(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backend.start()  # one client (or one ONNX Runtime session) per process and event loop
        yield
        await backend.close()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # this worker's live gauges stop counting
            multiprocess.mark_process_dead(os.getpid())

    app = FastAPI(
        title="RARE scene-text recognition",
        version=rare.__version__,
        lifespan=lifespan,
        description="POST word crops to /recognize and get their text, confidence and per-character confidences.",
        docs_url=None,  # service.docs serves both from local files
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    admission = Admission(settings)
    app.state.pipeline = Pipeline(backend, settings, admission)
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(GatewayMiddleware, settings=settings, admission=admission)
    if settings.cors_origins:  # outermost: answers preflights, and adds its headers to every response (401s too)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["x-request-id"],
        )
    app.openapi = lambda: openapi_with_limits(app, settings)  # type: ignore[method-assign]
    return app


def openapi_with_limits(app: FastAPI, settings: Settings) -> dict:
    """The generated schema, plus this deployment's request limits (so clients and fuzzers see them)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        content = schema["paths"]["/recognize"]["post"]["requestBody"]["content"]
        for body in (content["multipart/form-data"]["schema"], content["application/json"]["schema"]):
            body["properties"]["images"]["maxItems"] = settings.max_images
            if settings.lexicons:  # the names this deployment holds; none: the field does not exist here
                body["properties"]["lexicon_name"]["enum"] = sorted(settings.lexicons)
                body["properties"]["lexicon_name"].pop("anyOf", None)
            else:
                del body["properties"]["lexicon_name"]
        app.openapi_schema = schema
    return app.openapi_schema
