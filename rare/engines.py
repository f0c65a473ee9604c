"""The inference engines an exported graph runs on (CPU): ONNX Runtime in FP32, and OpenVINO in FP32 or BF16.

OpenVINO's BF16 runs the convolutions and matrix products in bfloat16 where the CPU computes it natively (AVX-512
BF16, AMX) and keeps FP32 accumulation: measured here on an AMD EPYC with AVX-512 BF16, one thread at batch 32, it
reads 695 crops/s against 401 for ONNX Runtime FP32, with every real_val reading the same. A model may only run on
an engine its ``rare.json`` lists as gated (``python -m build_engine engines``), and the gateway picks, among those
this machine has, the fastest (:func:`fastest`).

    run = open_engine(Path("model.onnx"), "openvino-bf16", threads=1)
    outputs = run(batch)  # {tensor name: array}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from rare.errors import RareError

ENGINES = ("onnxruntime", "openvino-fp32", "openvino-bf16")
Run = Callable[[np.ndarray], dict[str, np.ndarray]]  # input batch -> outputs by tensor name


class EngineError(RareError, ValueError):
    """An unknown engine, or one this machine cannot run."""


@cache
def _openvino_capabilities() -> frozenset[str]:
    try:
        import openvino as ov
    except ImportError:
        return frozenset()
    return frozenset(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def available(engine: str) -> bool:
    """Whether this machine can run ``engine`` (OpenVINO installed; BF16 natively supported)."""
    if engine == "onnxruntime":
        return True
    capabilities = _openvino_capabilities()
    return bool(capabilities) and (engine != "openvino-bf16" or "BF16" in capabilities)


def open_engine(path: Path, engine: str, threads: int, streams: int = 1) -> Run:
    """A callable running the graph at ``path`` on ``engine`` with ``threads`` intra-op threads per call, safe to
    call from ``streams`` threads at once (ONNX Runtime sessions are; OpenVINO gets one stream and one infer
    request per calling thread)."""
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}; choose from {list(ENGINES)}")
    if not available(engine):
        raise EngineError(f"engine {engine!r} is not available here (OpenVINO missing, or no native BF16)")
    if engine == "onnxruntime":
        return _onnxruntime(path, threads)
    import openvino as ov

    precision = engine.split("-")[1].replace("fp", "f")  # f32 or bf16
    config = {"INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": threads * streams}
    compiled = ov.Core().compile_model(str(path), "CPU", config)
    ports = [(port, port.get_names()) for port in compiled.outputs]  # a port may carry several tensor names
    local = threading.local()  # an infer request is not thread-safe: one per calling thread

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        request = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        outputs = request.infer({0: batch})
        return {name: np.array(outputs[port]) for port, names in ports for name in names}

    return run


def _onnxruntime(path: Path, threads: int) -> Run:
    import onnxruntime as ort

    from rare.onnx_runtime import session_options

    session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    input_name, names = session.get_inputs()[0].name, [o.name for o in session.get_outputs()]

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, {input_name: batch}), strict=True))

    return run


def fastest(path: Path, engines: Sequence[str], batch: np.ndarray, seconds: float = 0.5) -> tuple[str, dict]:
    """The engine of ``engines`` (those available here) that reads ``batch`` fastest on one thread, and crops/s
    of each: what the gateway serves with when its engine setting is ``auto``."""
    rates = {}
    for engine in (e for e in engines if available(e)):
        run = open_engine(path, engine, threads=1)
        run(batch)  # the first call compiles kernels
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            run(batch)
            calls += 1
        rates[engine] = calls * len(batch) / (time.perf_counter() - start)
    return max(rates, key=rates.__getitem__), rates
