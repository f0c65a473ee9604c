"""HTTP routes: /recognize, /healthz, /readyz, /metrics, /v1/models."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from service import metrics
from service.pipeline import Pipeline
from service.schemas import (
    ErrorResponse,
    HealthResponse,
    ModelDescription,
    ModelsResponse,
    RecognizeJSON,
    RecognizeResponse,
    RequestLimits,
)
from service.uploads import read_uploads

router = APIRouter()


def _detail(request: Request, detail: str) -> str:
    """A backend's status detail names model paths and internal addresses: only for callers that showed the key
    (the gateway logs it whenever readiness changes)."""
    return detail if request.state.key_shown else "details in the gateway's log, or ask with the API key"


def pipeline_of(request: Request) -> Pipeline:
    """Every route's pipeline (a plain lookup: a FastAPI dependency would cost more per request than it does)."""
    return request.app.state.pipeline


ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 413, 415, 429, 502, 503, 504)}
RECOGNIZE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["images"],
                    "properties": {
                        "images": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "description": "one or more word crops (image files)",
                        },
                        # multipart values are text whatever a client meant: any value is read as words
                        "lexicon": {"description": "candidate words, one a line: each crop also gets the best of them"},
                        "lexicon_name": {"description": "a lexicon the server holds, by name"},
                    },
                }
            },
            "application/json": {"schema": RecognizeJSON.model_json_schema()},
        },
    }
}


@router.post(
    "/recognize",
    response_model=RecognizeResponse,
    responses=ERRORS,
    openapi_extra=RECOGNIZE_BODY,
    summary="Recognize the text of one or many word crops",
)
async def recognize(request: Request) -> Response:
    """Results come in input order; a crop that cannot be decoded gets an ``error`` and the rest are recognized."""
    pipeline = pipeline_of(request)
    uploads = await read_uploads(request, pipeline.settings)
    metrics.CROPS_PER_REQUEST.observe(len(uploads.crops))
    results, version = await pipeline.recognize(uploads)
    for result in results:
        if result.error is not None:
            metrics.ERRORS.labels(result.error.code).inc()
    body = RecognizeResponse.model_construct(
        model=pipeline.model_info(version), results=results, request_id=request.state.request_id
    )
    # serialized once by pydantic-core; returning the model would make FastAPI dump, re-validate and dump it again
    return Response(body.model_dump_json(), media_type="application/json")


DEMO_PAGE = (Path(__file__).parent / "static" / "demo.html").read_text(encoding="utf-8")


@router.get("/demo", response_class=HTMLResponse, summary="A page to try the service in a browser")
async def demo() -> HTMLResponse:
    """Choose or drop crops and see each text, its characters shaded by confidence (served from here, no CDN)."""
    return HTMLResponse(DEMO_PAGE)


@router.get("/healthz", response_model=HealthResponse, summary="Liveness: the process serves HTTP")
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse}},
    summary="Readiness: the backend is reachable and the model loaded and validated",
)
async def readyz(request: Request) -> JSONResponse:
    pipeline = pipeline_of(request)
    status = await pipeline.status()
    metrics.BACKEND_READY.labels(pipeline.kind).set(1 if status.ready else 0)
    body = HealthResponse(status="ready" if status.ready else "not_ready", detail=_detail(request, status.detail))
    return JSONResponse(body.model_dump(), status_code=200 if status.ready else 503)


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}}
)
async def prometheus_metrics() -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/models", response_model=ModelsResponse, summary="What is served")
async def models(request: Request) -> ModelsResponse:
    pipeline = pipeline_of(request)
    status = await pipeline.status()
    spec = pipeline.spec
    description = ModelDescription(
        name=spec.model_name if spec else "unknown",
        version=spec.model_version if spec else "",
        backend=pipeline.kind,
        ready=status.ready,
        detail=_detail(request, status.detail),
        architecture=spec.architecture if spec else None,
        charset=spec.characters if spec else None,
        image_shape=spec.image_shape if spec else None,
        max_batch_size=pipeline.max_batch_size,
    )
    settings = pipeline.settings
    limits = RequestLimits(
        max_images=settings.max_images,
        max_image_bytes=settings.max_image_bytes,
        max_request_bytes=settings.max_request_bytes,
        api_key_required=settings.api_key is not None and "/recognize" not in settings.auth_exempt_paths,
    )
    return ModelsResponse(models=[description], limits=limits)
