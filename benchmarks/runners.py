"""Ways to run the model on one preprocessed batch, for the throughput benchmarks.

Each ``*_runner`` returns ``run(batch) -> None``, a blocking call that computes the model's outputs for a float32
[N, 3, 32, 100] batch. What differs is the engine: PyTorch eager (CPU, or CUDA in FP16), or an ONNX Runtime
session on an ONNX file (FP32, the FP16 graph of build_engine.fp16, or a quantized graph of benchmarks.quantize),
or OpenVINO (FP32, BF16) through rare.engines.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchmarks.common import REPO, WORK_DIR
from rare.modelspec import ModelSpec
from rare.onnx_runtime import session_options

Runner = Callable[[np.ndarray], None]
CONFIGS = {
    "rec_mv3_tps_bilstm_att": "rec_mv3_tps_bilstm_att.yml",
    "rec_r34_vd_tps_bilstm_att": "rec_r34_vd_tps_bilstm_att.yml",
}


def onnx_runner(path: Path, threads: int = 0) -> Runner:
    """ONNX Runtime (CPU) on ``path``; fetches the compact outputs (ids, scores) as the gateway does."""
    session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [o.name for o in session.get_outputs()]
    fetch = [n for n in ("ids", "scores") if n in outputs] or outputs[:1]

    def run(batch: np.ndarray) -> None:
        session.run(fetch, {name: batch})

    return run


def engine_runner(path: Path, engine: str, threads: int, streams: int, full_batch: int | None = None) -> Runner:
    """An engine of rare.engines (OpenVINO FP32 or BF16) on ``path``, callable from ``streams`` threads at once
    (compiled for exactly ``full_batch`` crops too, as the gateway compiles it for its max batch)."""
    from rare.engines import open_engine

    run = open_engine(path, engine, max(1, threads), streams, full_batch)

    def call(batch: np.ndarray) -> None:
        run(batch)

    return call


def fp16_onnx(model_dir: Path) -> Path:
    """The FP16 graph of ``model_dir/model.onnx`` (build_engine.fp16), cached under WORK_DIR by content hash."""
    from build_engine.fp16 import convert_to_fp16

    source = model_dir / ModelSpec.load(model_dir).onnx_file
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = WORK_DIR / "fp16" / digest / "model_fp16.onnx"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        convert_to_fp16(source, target)
    return target


def torch_model(model_dir: Path) -> tuple[object, str]:
    """The PyTorch model of ``model_dir``: from ``model.pt`` when present, else untrained weights of the same
    architecture (same cost; ``rare.json`` names it). Returns the model in eval mode and where it came from."""
    import torch

    from rare.config import config_from_dict, load_config
    from rare.export.checkpoint import read_checkpoint
    from rare.model import build_model

    spec = ModelSpec.load(model_dir)
    weights = model_dir / "model.pt"
    if weights.is_file():
        payload = read_checkpoint(weights)
        model = build_model(config_from_dict(payload["config"]).Architecture, spec.num_classes)
        model.load_state_dict(payload["state_dict"])
        source = str(weights)
    else:
        config = REPO / "configs" / CONFIGS.get(spec.architecture, "rec_mv3_tps_bilstm_att.yml")
        model = build_model(load_config(config).Architecture, spec.num_classes)
        source = f"untrained {config.name} (no model.pt in {Path(model_dir).name})"
    torch.set_grad_enabled(False)
    return model.eval(), source


def torch_runner(model_dir: Path, device: str = "cpu", threads: int = 0) -> Runner:
    """PyTorch eager: FP32 on CPU, FP16 autocast on CUDA (inputs copied to the device once per batch size)."""
    import torch

    from rare.model import InferenceModel

    model, _ = torch_model(model_dir)
    torch.set_num_threads(threads if threads > 0 else (os.cpu_count() or 1))
    wrapper = InferenceModel(model).to(device).eval()
    cached: dict[int, torch.Tensor] = {}

    def run(batch: np.ndarray) -> None:
        if len(batch) not in cached:
            cached[len(batch)] = torch.from_numpy(batch).to(device)
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=device == "cuda"):
            wrapper(cached[len(batch)])
        if device == "cuda":
            torch.cuda.synchronize()

    return run
