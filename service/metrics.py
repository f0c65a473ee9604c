"""Prometheus metrics of the gateway (units in the names). Triton exports its own nv_* metrics on :8002.

With several uvicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` so /metrics aggregates all processes.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CROP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

REQUEST_DURATION = Histogram(
    "rare_http_request_duration_seconds", "HTTP request latency", ["route", "method", "status"], buckets=LATENCY_BUCKETS
)
STAGE_DURATION = Histogram(
    "rare_stage_duration_seconds", "time per pipeline stage and request", ["stage"], buckets=LATENCY_BUCKETS
)
CROPS_PER_REQUEST = Histogram("rare_crops_per_request", "crops in one /recognize request", buckets=CROP_BUCKETS)
CROPS = Counter("rare_crops_total", "crops processed", ["outcome"])
IN_FLIGHT = Gauge(
    "rare_http_requests_in_flight", "requests being recognized (their bodies read)", multiprocess_mode="livesum"
)
ERRORS = Counter("rare_errors_total", "errors by reason (error code)", ["reason"])
BACKEND_READY = Gauge(
    "rare_backend_ready", "1 when the backend and model are ready", ["backend"], multiprocess_mode="max"
)
BATCH_SIZE = Histogram("rare_backend_batch_size", "crops per backend call", buckets=CROP_BUCKETS)
INFERENCE_BATCH = Histogram(
    "rare_inference_batch_size", "crops per embedded inference, after micro-batching", buckets=CROP_BUCKETS
)

# The hot path's children, bound once: .labels() takes a lock and a lookup on every call
STAGE = {stage: STAGE_DURATION.labels(stage) for stage in ("decode", "preprocess", "infer", "postprocess")}
CROPS_RECOGNIZED = CROPS.labels("recognized")
CROPS_FAILED = CROPS.labels("failed")


def render() -> bytes:
    """The exposition text: this process's registry, or all workers' in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
