"""Response and request bodies (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_LEXICON_WORDS = 100_000


class ItemError(BaseModel):
    code: str = Field(description="machine-readable reason, e.g. undecodable_image, image_too_large")
    message: str


class LexiconMatch(BaseModel):
    word: str = Field(description="the candidate that best explains the reading, as given")
    score: float = Field(description="exp(-weighted edit distance): 1 when the reading is the candidate")


class CropResult(BaseModel):
    index: int = Field(description="position of the crop in the request")
    filename: str | None = Field(None, description="the uploaded file name, when there was one")
    text: str | None = Field(None, description="recognized text (null when the crop failed)")
    confidence: float | None = Field(None, description="mean of the per-character probabilities")
    char_confidences: list[float] | None = Field(None, description="probability of each recognized character")
    error: ItemError | None = Field(None, description="why this crop was not recognized")
    lexicon_match: LexiconMatch | None = Field(
        None, description="with a lexicon: the candidate word that best explains the reading, beside the free text"
    )


class ModelInfo(BaseModel):
    name: str
    version: str
    backend: str = Field(
        description="what answered: triton, or the embedded engine (onnxruntime, openvino-fp32, openvino-bf16), or "
        "engines by batch size (onnxruntime<8,openvino-bf16: ONNX Runtime below 8 crops)"
    )


class RecognizeResponse(BaseModel):
    model: ModelInfo
    results: list[CropResult]
    request_id: str | None = None


class RecognizeJSON(BaseModel):
    """JSON alternative to multipart: base64-encoded image files."""

    model_config = ConfigDict(extra="forbid")

    images: list[str] = Field(
        description="base64 of each image file (PNG, JPEG, BMP, TIFF, WebP, ...); a data: URL prefix is accepted",
        min_length=1,
    )
    filenames: list[str] | None = Field(None, description="optional names, same order as images")
    lexicon: list[str] | None = Field(
        None, description="candidate words: each crop also gets the best of them", max_length=MAX_LEXICON_WORDS
    )
    lexicon_name: str | None = Field(None, description="a lexicon the server holds (RARE_LEXICONS), by name")


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


class RequestLimits(BaseModel):
    """What one /recognize request may carry here (clients split their work by it)."""

    max_images: int = Field(description="crops per request")
    max_image_bytes: int = Field(description="bytes per encoded crop")
    max_request_bytes: int = Field(description="bytes per request body")
    api_key_required: bool = Field(description="whether /recognize needs the API key")


class ModelsResponse(BaseModel):
    models: list[ModelDescription]
    limits: RequestLimits


class HealthResponse(BaseModel):
    status: str
    detail: str | None = None
