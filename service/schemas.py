"""Response and request bodies (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ItemError(BaseModel):
    code: str = Field(description="machine-readable reason, e.g. undecodable_image, image_too_large")
    message: str


class CropResult(BaseModel):
    index: int = Field(description="position of the crop in the request")
    filename: str | None = Field(None, description="the uploaded file name, when there was one")
    text: str | None = Field(None, description="recognized text (null when the crop failed)")
    confidence: float | None = Field(None, description="mean of the per-character probabilities")
    char_confidences: list[float] | None = Field(None, description="probability of each recognized character")
    error: ItemError | None = Field(None, description="why this crop was not recognized")


class ModelInfo(BaseModel):
    name: str
    version: str
    backend: str = Field(description="onnxruntime (embedded) or triton")


class RecognizeResponse(BaseModel):
    model: ModelInfo
    results: list[CropResult]
    request_id: str | None = None


class RecognizeJSON(BaseModel):
    """JSON alternative to multipart: base64-encoded image files."""

    images: list[str] = Field(
        description="base64 of each image file (PNG, JPEG, BMP, TIFF, WebP, ...); a data: URL prefix is accepted",
        min_length=1,
    )
    filenames: list[str] | None = Field(None, description="optional names, same order as images")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
    request_id: str | None = None


class ModelDescription(BaseModel):
    name: str
    version: str
    backend: str
    ready: bool
    detail: str = Field(description="why the model is not ready, or where it is served from")
    architecture: str | None = None
    charset: list[str] | None = None
    image_shape: list[int] | None = None
    max_batch_size: int | None = None


class ModelsResponse(BaseModel):
    models: list[ModelDescription]


class HealthResponse(BaseModel):
    status: str
    detail: str | None = None
