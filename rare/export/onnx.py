"""Export a trained RARE to ONNX (opset 17) plus ``rare.json``, and prove the graph clean (:mod:`rare.graph`).

Vanishing weights are zeroed twice: parameters before tracing, and constants that folding made that small (a
convolution times its batch norm) in the graph after it. The export runs on CPU (tracing the GRU math on CUDA hits
unexportable fused kernels) and compares ONNX Runtime with PyTorch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from rare.codec import LabelCodec
from rare.config import Config
from rare.errors import RareError
from rare.graph import check_graph, zero_vanishing_constants
from rare.model import RARE, InferenceModel
from rare.model.denormals import zero_vanishing_
from rare.model.rare import backbone_of
from rare.modelspec import ModelSpec, normalization, our_io
from rare.preprocess import IMAGE_SHAPE

OPSET = 17


class ExportError(RareError, ValueError):
    """The exported graph does not reproduce PyTorch."""


@dataclass
class ExportReport:
    op_counts: dict[str, int]
    max_abs_diff: float  # ONNX Runtime vs PyTorch probabilities on random input


def export_onnx(model: RARE, path: str | Path) -> None:
    """Trace ``model`` (on CPU, eval mode) to ONNX with a dynamic batch dimension; zero vanishing weights in both."""
    zero_vanishing_(model)
    wrapper = InferenceModel(model.cpu()).eval()
    dummy = torch.zeros(2, *IMAGE_SHAPE)
    dynamic = {name: {0: "batch"} for name in ("images", "probs", "ids", "scores")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer chatter about the LSTM and the unrolled loop
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            do_constant_folding=True,
            input_names=["images"],
            output_names=["probs", "ids", "scores"],
            dynamic_axes=dynamic,
        )
    graph = onnx.load(str(path))
    if zero_vanishing_constants(graph):
        onnx.save(graph, str(path))


def compare_with_torch(model: RARE, path: str | Path, batch: int = 4, seed: int = 0) -> float:
    """Max |ONNX Runtime - PyTorch| of the probabilities on random images in [-1, 1]."""
    import onnxruntime as ort

    images = np.random.default_rng(seed).uniform(-1, 1, (batch, *IMAGE_SHAPE)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ort_probs,) = session.run(["probs"], {"images": images})
    with torch.no_grad():
        torch_probs = model.eval()(torch.from_numpy(images)).numpy()
    return float(np.abs(ort_probs - torch_probs).max())


def export_model_dir(
    model: RARE, cfg: Config, codec: LabelCodec, out_dir: str | Path, source: str = ""
) -> tuple[ModelSpec, ExportReport]:
    """Write ``out_dir/model.onnx`` and ``out_dir/rare.json``; check the graph and its parity with PyTorch."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    export_onnx(model, onnx_path)
    ops = check_graph(onnx_path)
    diff = compare_with_torch(model, onnx_path)
    if diff > 1e-4:
        raise ExportError(f"{onnx_path}: ONNX Runtime differs from PyTorch by {diff:.2e} (> 1e-4)")
    images, outputs = our_io(codec.num_classes)
    spec = ModelSpec(
        model_name=cfg.Global.model_name,
        model_version=cfg.Global.model_version,
        characters=list(codec.characters),
        input=images,
        outputs=outputs,
        num_steps=codec.num_steps,
        lowercase=codec.lowercase,
        normalization=normalization(cfg.Global.resize),
        resize=cfg.Global.resize,
        orientation=cfg.Global.orientation,
        architecture=backbone_of(cfg.Architecture.Backbone).architecture,
        source=source,
    )
    spec.save(out_dir)
    return spec, ExportReport(ops, diff)
