"""The embedded backend: ONNX Runtime in the gateway process (the default when no Triton URL is set)."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from rare.engines import Plan, describe, plan_by_batch
from rare.errors import RareError
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer, usable_cores
from service.backends.base import Answer, BackendStatus
from service.batcher import MicroBatcher
from service.errors import BackendFailed, BackendUnavailable, GatewayError
from service.settings import Settings

log = logging.getLogger("rare.gateway")


class OnnxBackend:
    """``kind`` is the engine that serves: onnxruntime, an OpenVINO engine the model is gated for, or (auto) a
    plan of them by batch size such as ``onnxruntime<8,openvino-bf16``."""

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
        self.kind = settings.engine if settings.engine != "auto" else "onnxruntime"
        self._recognizer: OnnxRecognizer | None = None
        self._batcher: MicroBatcher | None = None
        self._detail = "loading"

    async def start(self) -> None:
        try:
            self._recognizer = await asyncio.to_thread(self._load)
        except (RareError, OSError) as exc:  # a broken model dir must not crash the process: readyz says why
            self._detail = f"model not loaded: {exc}"
            log.error("embedded backend: %s", self._detail)
            return
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own types for a corrupt graph
            self._detail = f"model not loaded: {type(exc).__name__}: {exc}"
            log.error("embedded backend: %s", self._detail)
            return
        self.spec = self._recognizer.spec
        self._batcher = MicroBatcher(
            self._recognizer.infer, self.max_batch_size, self.parallelism, self.settings.retry_after_s
        )
        self._detail = (
            f"{self.settings.model_dir} on {self.kind} (CPU, {self.parallelism} instance(s) x {self.threads} thread(s))"
        )
        log.info("embedded backend ready: %s %s", self.spec.model_name, self._detail)

    def _load(self) -> OnnxRecognizer:
        """The model on the engine the settings name, or (auto) on whichever of its gated engines reads each batch
        size fastest here."""
        model_dir = self.settings.model_dir
        spec = ModelSpec.load(model_dir)
        engine: str | Plan = self.kind
        if self.settings.engine == "auto" and spec.engines:
            engines = ["onnxruntime", *spec.engines]
            engine, rates = plan_by_batch(model_dir / spec.onnx_file, engines, spec.image_shape, self.max_batch_size)
            self.kind = describe(engine)
            log.info("engines measured here (crops/s, one thread): %s; serving on %s", _rates(rates), self.kind)
        elif self.kind != "onnxruntime" and self.kind not in spec.engines:
            log.warning("engine %s was not gated for %s (python -m build_engine engines)", self.kind, model_dir)
        return OnnxRecognizer(
            model_dir, self.threads, spec, engine, streams=self.parallelism, full_batch=self._full(spec)
        )

    def _full(self, spec: ModelSpec) -> int | None:
        """The max batch, when the engine gate read OpenVINO's graph compiled for that many crops (else None:
        OpenVINO runs every batch on its dynamic graph)."""
        if not spec.engines:
            return None
        gated = {record.get("full_batch") for record in spec.engines.values()}
        if gated == {self.max_batch_size}:
            return self.max_batch_size
        log.info("OpenVINO full-batch compile off: gated for %s, max batch %d", gated, self.max_batch_size)
        return None

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


def _rates(rates: dict[int, dict[str, float]]) -> str:
    return "; ".join(
        f"batch {size}: " + ", ".join(f"{engine} {rate:.0f}" for engine, rate in by_engine.items())
        for size, by_engine in rates.items()
    )
