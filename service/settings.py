"""Gateway settings, from ``RARE_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "rare_mv3_en"
MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RARE_", env_file=".env", extra="ignore")

    # --- model and backend -------------------------------------------------------------------------------------
    model_dir: Path = Field(
        DEFAULT_MODEL_DIR, description="exported model (model.onnx + rare.json) for the embedded backend"
    )
    backend: Literal["auto", "onnxruntime", "triton"] = Field(
        "auto", description="auto: triton when triton_url is set, else the embedded onnxruntime backend"
    )
    triton_url: str | None = Field(None, description="Triton gRPC address, e.g. 127.0.0.1:8001")
    triton_model: str = Field("rare", description="model name in the Triton repository")
    triton_model_version: str = Field("", description="empty: Triton's latest")
    triton_timeout_s: float = Field(10.0, gt=0, description="gRPC deadline of one inference call (all its attempts)")
    triton_attempts: int = Field(
        3, ge=1, description="tries of one inference, each on the next replica, while a replica is unavailable"
    )
    retry_after_s: int = Field(1, ge=1, description="Retry-After of every 429 and 503 (load shedding, either backend)")
    engine: Literal["auto", "onnxruntime", "openvino-fp32", "openvino-bf16"] = Field(
        "auto",
        description="embedded backend: auto picks the fastest engine here among those the model's rare.json lists "
        "as gated (python -m build_engine engines), else onnxruntime",
    )
    ort_instances: int = Field(
        0, ge=0, description="batches the embedded backend runs in parallel per worker (0: cores / workers)"
    )
    ort_threads: int = Field(0, ge=0, description="intra-op threads per embedded instance (0: cores / instances)")
    max_batch_size: int = Field(32, ge=1, le=1024, description="largest batch an embedded instance runs at once")
    nudges: bool = Field(
        True,
        description="read every crop also with its box nudged, when the model's rare.json lists nudges (more "
        "accurate; each nudge costs one more inference per crop); false: one upright view per crop, the fastest",
    )

    # --- request limits ----------------------------------------------------------------------------------------
    max_images: int = Field(64, ge=1, description="most crops in one request")
    max_image_bytes: int = Field(2 * MiB, ge=1, description="largest encoded crop")
    max_request_bytes: int = Field(32 * MiB, ge=1, description="largest request body (rejected before reading)")
    max_image_pixels: int = Field(25_000_000, ge=1, description="largest decoded crop, checked from the header")
    max_request_pixels: int = Field(
        100_000_000, ge=1, description="decoded pixels of one request; crops past this budget get image_too_large"
    )
    lexicons: dict[str, Path] = Field(
        {}, description='named lexicons, one candidate word a line, e.g. {"streets": "/data/streets.txt"}'
    )
    max_in_flight: int = Field(256, ge=1, description="requests recognized at once (bodies read); more get 429")
    max_body_bytes_in_flight: int = Field(
        256 * MiB, ge=1, description="request body bytes one worker holds at once, all requests together; then 429"
    )
    decode_threads: int = Field(0, ge=0, description="crops decoded at once per worker (0: usable cores)")

    # --- connections (slow or stalled clients) -----------------------------------------------------------------
    header_timeout_s: float = Field(10.0, gt=0, description="a request's headers must arrive within this; else closed")
    body_timeout_s: float = Field(30.0, gt=0, description="a request's body must arrive within this; else 408")
    keepalive_timeout_s: float = Field(5.0, gt=0, description="an idle keep-alive connection is closed after this")
    max_header_bytes: int = Field(16 * 1024, ge=1024, description="request line and headers; larger gets 431")
    shutdown_timeout_s: float = Field(10.0, gt=0, description="requests still running get this long at shutdown")

    # --- access and observability ------------------------------------------------------------------------------
    api_key: SecretStr | None = Field(
        None, description="when set, requests need 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
    )
    auth_exempt_paths: list[str] = Field(
        ["/healthz", "/readyz", "/metrics", "/demo", "/docs", "/redoc", "/openapi.json", "/docs/static/"],
        description="paths served without the API key; one ending in / covers what is below it (the pages hold no "
        "data; the requests they make carry the key)",
    )
    cors_origins: list[str] = Field([], description="allowed CORS origins (empty: CORS off)")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # --- process -----------------------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes")

    @field_validator("triton_url")
    @classmethod
    def _strip_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        return value.removeprefix("grpc://").removeprefix("http://").rstrip("/")

    @property
    def use_triton(self) -> bool:
        return self.backend == "triton" or (self.backend == "auto" and self.triton_url is not None)
