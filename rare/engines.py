"""The inference engines an exported graph runs on (CPU): ONNX Runtime in FP32, and OpenVINO in FP32 or BF16.

OpenVINO's BF16 runs the convolutions and matrix products in bfloat16 where the CPU computes it natively (AVX-512
BF16, AMX) and keeps FP32 accumulation: measured here on an AMD EPYC with AVX-512 BF16, one thread at batch 32, it
reads 695 crops/s against 401 for ONNX Runtime FP32, with every real_val reading the same. A model may only run on
an engine its ``rare.json`` lists as gated (``python -m build_engine engines``), and the gateway picks, among those
this machine has, the fastest for each batch size (:func:`plan_by_batch`). OpenVINO pays about 4 ms per call for
the dynamic batch dimension (BF16, one thread: 117 crops/s at batch 1, 238 with the batch fixed at 1), so ONNX Runtime
reads single crops nearly twice as fast, while BF16 OpenVINO wins from batch 8 up (526 against 403 crops/s).

    run = open_engine(Path("model.onnx"), "openvino-bf16", threads=1)
    outputs = run(batch)  # {tensor name: array}
    plan, rates = plan_by_batch(Path("model.onnx"), ENGINES, (3, 32, 100), max_batch=32)
    run = open_plan(Path("model.onnx"), plan, threads=1)  # each batch on the engine that won at its size
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from rare.errors import RareError

ENGINES = ("onnxruntime", "openvino-fp32", "openvino-bf16")
FULL_BATCH = 32  # the gateway's default RARE_MAX_BATCH_SIZE: the batch OpenVINO is also compiled for (static shape)
Run = Callable[[np.ndarray], dict[str, np.ndarray]]  # input batch -> outputs by tensor name
Plan = tuple[tuple[int, str], ...]  # ascending (smallest batch size, engine): batches from that size up run there


class EngineError(RareError, ValueError):
    """An unknown engine, or one this machine cannot run."""


@cache
def openvino_core() -> Any:
    """The process's one OpenVINO Core (None without OpenVINO): a second Core in the same process can crash it
    (segmentation faults seen on repeated loads), so every compile and query goes through this one."""
    try:
        import openvino as ov
    except ImportError:
        return None
    return ov.Core()


@cache
def _openvino_capabilities() -> frozenset[str]:
    core = openvino_core()
    return frozenset(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")) if core is not None else frozenset()


def available(engine: str) -> bool:
    """Whether this machine can run ``engine`` (OpenVINO installed; BF16 natively supported)."""
    if engine == "onnxruntime":
        return True
    capabilities = _openvino_capabilities()
    return bool(capabilities) and (engine != "openvino-bf16" or "BF16" in capabilities)


def open_engine(path: Path, engine: str, threads: int, streams: int = 1, full_batch: int | None = None) -> Run:
    """A callable running the graph at ``path`` on ``engine`` with ``threads`` intra-op threads per call, safe to
    call from ``streams`` threads at once (ONNX Runtime sessions are; OpenVINO gets one stream and one infer
    request per calling thread). ``full_batch``: OpenVINO also compiles the graph for exactly that many crops and
    runs batches of that size on it (a static shape lets it plan its kernels: 2,700 against 2,100 crops/s in BF16 at
    batch 32 on 2 Zen 5 cores); other sizes, and ONNX Runtime, run on the dynamic graph."""
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}; choose from {list(ENGINES)}")
    if not available(engine):
        raise EngineError(f"engine {engine!r} is not available here (OpenVINO missing, or no native BF16)")
    if engine == "onnxruntime":
        return _onnxruntime(path, threads)
    _check_full_batch(full_batch)
    dynamic = _openvino(path, engine, threads, streams, None)
    fixed = _openvino(path, engine, threads, streams, full_batch) if full_batch else None

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        return (fixed if fixed is not None and len(batch) == full_batch else dynamic)(batch)

    return run


def _check_full_batch(full_batch: int | None) -> None:
    if full_batch is not None and full_batch < 1:
        raise EngineError(f"full_batch must be at least 1, got {full_batch}")


def _openvino(path: Path, engine: str, threads: int, streams: int, batch_size: int | None) -> Run:
    """The graph compiled by OpenVINO (for ``batch_size`` crops exactly, or any number), one infer request per
    calling thread."""
    config = {
        "INFERENCE_PRECISION_HINT": precision_hint(engine),
        "NUM_STREAMS": streams,
        "INFERENCE_NUM_THREADS": threads * streams,
    }
    core = openvino_core()
    model = core.read_model(str(path))
    if batch_size is not None:
        dims = [d.get_length() for d in model.inputs[0].get_partial_shape()[1:]]  # 3, 32, 100
        model.reshape({model.inputs[0].any_name: [batch_size, *dims]})
    compiled = core.compile_model(model, "CPU", config)
    ports = [(port, port.get_names()) for port in compiled.outputs]  # a port may carry several tensor names
    local = threading.local()  # an infer request is not thread-safe: one per calling thread

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        request = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        outputs = request.infer({0: batch})
        return {name: np.array(outputs[port]) for port, names in ports for name in names}

    return run


def precision_hint(engine: str) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` for ``engine``: bf16 for openvino-bf16, f32 otherwise."""
    return "bf16" if engine == "openvino-bf16" else "f32"


def _onnxruntime(path: Path, threads: int) -> Run:
    import onnxruntime as ort

    from rare.onnx_runtime import session_options

    session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    input_name, names = session.get_inputs()[0].name, [o.name for o in session.get_outputs()]

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, {input_name: batch}), strict=True))

    return run


def _rate(run: Run, batch: np.ndarray, seconds: float) -> float:
    """Crops/s of ``run`` on ``batch``, after one call that compiles kernels."""
    run(batch)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run(batch)
        calls += 1
    return calls * len(batch) / (time.perf_counter() - start)


def fastest(path: Path, engines: Sequence[str], batch: np.ndarray, seconds: float = 0.5) -> tuple[str, dict]:
    """The engine of ``engines`` (those available here) that reads ``batch`` fastest on one thread, and crops/s
    of each: how a Triton model, which runs on one engine, picks it (``build_engine --target cpu``)."""
    rates = {e: _rate(open_engine(path, e, threads=1), batch, seconds) for e in engines if available(e)}
    return max(rates, key=rates.__getitem__), rates


def plan_by_batch(
    path: Path,
    engines: Sequence[str],
    image_shape: Sequence[int],
    max_batch: int,
    seconds: float = 0.15,
    margin: float = 1.3,
) -> tuple[Plan, dict[int, dict[str, float]]]:
    """Which of ``engines`` (those available here) reads each batch size fastest on one thread, measured at 1, 4,
    8, 16 and ``max_batch`` crops, as a :data:`Plan`, and the crops/s behind it by size: what the gateway serves
    with when its engine setting is ``auto`` (its micro-batches are small under light load, full under heavy).

    The first engine keeps a size unless another beats it by ``margin``: alone, BF16 OpenVINO reads batches of 4
    9 % faster than ONNX Runtime, but inside the gateway, where its stream threads share two cores with the event
    loop, one-crop requests (batches of about 4) ran at 340 against 477 crops/s."""
    runs = {e: open_engine(path, e, threads=1, full_batch=max_batch) for e in engines if available(e)}
    sizes = sorted({size for size in (1, 4, 8, 16, max_batch) if size <= max_batch})
    rates = {
        size: {e: _rate(run, np.zeros((size, *image_shape), np.float32), seconds) for e, run in runs.items()}
        for size in sizes
    }
    plan: list[tuple[int, str]] = []
    for size in sizes:
        winner = max(rates[size], key=rates[size].__getitem__)
        first = next(iter(rates[size]))
        winner = winner if rates[size][winner] >= margin * rates[size][first] else first
        if not plan or plan[-1][1] != winner:
            plan.append((1 if not plan else size, winner))
    return tuple(plan), rates


def describe(plan: Plan) -> str:
    """``onnxruntime`` for a one-engine plan, ``onnxruntime<8,openvino-bf16`` for ONNX Runtime below 8 crops."""
    return ",".join(f"{engine}<{after}" for (_, engine), (after, _) in zip(plan, plan[1:], strict=False)) + (
        ("," if len(plan) > 1 else "") + plan[-1][1]
    )


def parse_plan(description: str) -> Plan:
    """The :data:`Plan` that :func:`describe` wrote (what the gateway reports as its backend)."""
    plan, start = [], 1
    for part in description.split(","):
        engine, _, below = part.partition("<")
        plan.append((start, engine))
        start = int(below) if below else start
    return tuple(plan)


def open_plan(path: Path, plan: Plan, threads: int, streams: int = 1, full_batch: int | None = None) -> Run:
    """Like :func:`open_engine`, each batch on the engine ``plan`` names for its size."""
    _check_full_batch(full_batch)
    full_engine = next(engine for size, engine in reversed(plan) if size <= (full_batch or 1))
    runs = {
        engine: open_engine(path, engine, threads, streams, full_batch if engine == full_engine else None)
        for _, engine in plan
    }
    if len(runs) == 1:
        return runs[plan[0][1]]

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        engine = next(engine for size, engine in reversed(plan) if size <= len(batch))
        return runs[engine](batch)

    return run
