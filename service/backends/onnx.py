"""The embedded backend: ONNX Runtime in the gateway process (the default when no Triton URL is set)."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from rare.errors import RareError
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer, usable_cores
from service.backends.base import Answer, BackendStatus
from service.batcher import MicroBatcher
from service.errors import BackendFailed, BackendUnavailable, GatewayError
from service.settings import Settings

log = logging.getLogger("rare.gateway")


class OnnxBackend:
    kind = "onnxruntime"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.spec: ModelSpec | None = None
        self.max_batch_size = settings.max_batch_size
        cores = max(1, usable_cores() // settings.workers)  # this worker's share of the cores
        # One single-threaded instance per core beats one instance on all cores: ONNX Runtime's intra-op
        # parallelism scales poorly on this small model (benchmarks/results: 2 x 1 thread 868 vs 1 x 2 threads
        # 578 crops/s at batch 32 on 2 cores).
        self.parallelism = settings.ort_instances or cores
        self.threads = settings.ort_threads or max(1, cores // self.parallelism)
        self._recognizer: OnnxRecognizer | None = None
        self._batcher: MicroBatcher | None = None
        self._detail = "loading"

    async def start(self) -> None:
        try:
            self._recognizer = await asyncio.to_thread(OnnxRecognizer, self.settings.model_dir, self.threads)
        except (RareError, OSError) as exc:  # a broken model dir must not crash the process: readyz says why
            self._detail = f"model not loaded: {exc}"
            log.error("embedded backend: %s", self._detail)
            return
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own types for a corrupt graph
            self._detail = f"model not loaded: {type(exc).__name__}: {exc}"
            log.error("embedded backend: %s", self._detail)
            return
        self.spec = self._recognizer.spec
        self._batcher = MicroBatcher(self._recognizer.infer, self.max_batch_size, self.parallelism)
        self._detail = (
            f"{self.settings.model_dir} on ONNX Runtime (CPU, {self.parallelism} instance(s)"
            f" x {self.threads} thread(s))"
        )
        log.info("embedded backend ready: %s %s", self.spec.model_name, self._detail)

    async def status(self) -> BackendStatus:
        return BackendStatus(self._batcher is not None, self._detail)

    async def infer(self, batch: np.ndarray) -> Answer:
        if self._batcher is None:
            log.warning("embedded model not loaded: %s", self._detail)
            raise BackendUnavailable("the embedded model is not loaded", retry_after=self.settings.retry_after_s)
        try:
            ids, scores = await self._batcher.submit(batch)
            return Answer(ids, scores, self.spec.model_version)
        except (RareError, GatewayError):
            raise
        except Exception as exc:  # noqa: BLE001 - an ONNX Runtime failure is this request's 502, not a crash
            raise BackendFailed(f"ONNX Runtime failed: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
