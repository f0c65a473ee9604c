"""Export a trained RARE to ONNX (opset 17) plus ``rare.json``, and prove the graph is clean.

Clean means: ``onnx.checker`` passes with full shape inference, the decoder is unrolled (no Loop/Scan/If), there is
no float64 anywhere and no ``Inverse``, every op is one TensorRT 10's ONNX parser supports, and no weight is
vanishing (0 < |w| < 1e-20, see :mod:`rare.model.denormals`): parameters are zeroed below that before tracing, and
constants that folding made that small (a convolution times its batch norm) are zeroed in the graph after it. The
export runs on CPU (tracing the GRU math on CUDA hits unexportable fused kernels) and compares ONNX Runtime with
PyTorch.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from rare.codec import LabelCodec
from rare.config import Config
from rare.errors import RareError
from rare.model import RARE, InferenceModel
from rare.model.denormals import VANISHING, vanishing_mask, zero_vanishing_
from rare.modelspec import ModelSpec, normalization, our_io

OPSET = 17
# Ops of our graph that onnx-tensorrt (TensorRT 10) parses; anything else fails the export check.
TENSORRT_OPS = {
    "Add",
    "ArgMax",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "Div",
    "Expand",
    "Flatten",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "GridSample",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LSTM",
    "MatMul",
    "MaxPool",
    "Mul",
    "ReduceMax",
    "ReduceMean",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Split",
    "Squeeze",
    "Sub",
    "Tanh",
    "TopK",
    "Transpose",
    "Unsqueeze",
}
FORBIDDEN_DTYPES = {onnx.TensorProto.DOUBLE: "float64"}


class ExportError(RareError, ValueError):
    """The exported graph is not clean or does not reproduce PyTorch."""


@dataclass
class ExportReport:
    op_counts: dict[str, int]
    max_abs_diff: float  # ONNX Runtime vs PyTorch probabilities on random input


def export_onnx(model: RARE, path: str | Path) -> None:
    """Trace ``model`` (on CPU, eval mode) to ONNX with a dynamic batch dimension; zero vanishing weights in both."""
    zero_vanishing_(model)
    wrapper = InferenceModel(model.cpu()).eval()
    dummy = torch.zeros(2, 3, 32, 100)
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


def _float_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    """Initializers and Constant-node values of type float32."""
    tensors = list(model.graph.initializer) + [
        a.t for node in model.graph.node for a in node.attribute if a.type == onnx.AttributeProto.TENSOR
    ]
    return [t for t in tensors if t.data_type == onnx.TensorProto.FLOAT]


def count_vanishing(model: onnx.ModelProto) -> int:
    """How many weights of the graph are nonzero but below :data:`VANISHING` in magnitude."""
    return sum(int(vanishing_mask(onnx.numpy_helper.to_array(t)).sum()) for t in _float_tensors(model))


def zero_vanishing_constants(model: onnx.ModelProto) -> int:
    """Zero, in place, the graph's vanishing weights; returns how many."""
    zeroed = 0
    for tensor in _float_tensors(model):
        array = onnx.numpy_helper.to_array(tensor)
        tiny = vanishing_mask(array)
        if tiny.any():
            zeroed += int(tiny.sum())
            tensor.CopyFrom(onnx.numpy_helper.from_array(np.where(tiny, np.float32(0), array), tensor.name))
    return zeroed


def check_graph(path: str | Path) -> dict[str, int]:
    """Raise :class:`ExportError` unless the graph is clean (see module docstring); returns op counts."""
    model = onnx.load(str(path))
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"{path}: onnx.checker failed: {exc}") from None
    ops = Counter(node.op_type for node in model.graph.node)
    unsupported = sorted(set(ops) - TENSORRT_OPS)
    if unsupported:
        raise ExportError(f"{path}: ops outside the TensorRT-supported set: {unsupported}")
    tensors = list(model.graph.initializer) + [
        a.t for node in model.graph.node for a in node.attribute if a.type == onnx.AttributeProto.TENSOR
    ]
    typed = [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output, *model.graph.value_info)]
    dtypes = {t.data_type for t in tensors} | set(typed)
    bad = sorted(FORBIDDEN_DTYPES[d] for d in dtypes if d in FORBIDDEN_DTYPES)
    if bad:
        raise ExportError(f"{path}: graph holds {bad} tensors (TensorRT has no float64)")
    vanishing = count_vanishing(model)
    if vanishing:
        raise ExportError(f"{path}: {vanishing} vanishing weights (0 < |w| < {VANISHING:g}) slow every CPU kernel")
    return dict(sorted(ops.items()))


def compare_with_torch(model: RARE, path: str | Path, batch: int = 4, seed: int = 0) -> float:
    """Max |ONNX Runtime - PyTorch| of the probabilities on random images in [-1, 1]."""
    import onnxruntime as ort

    images = np.random.default_rng(seed).uniform(-1, 1, (batch, 3, 32, 100)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ort_probs,) = session.run(["probs"], {"images": images})
    with torch.no_grad():
        torch_probs = model.eval()(torch.from_numpy(images)).numpy()
    return float(np.abs(ort_probs - torch_probs).max())


def architecture_name(cfg: Config) -> str:
    backbone = {"ResNet": "r34_vd", "MobileNetV3": "mv3"}[cfg.Architecture.Backbone.name]
    return f"rec_{backbone}_tps_bilstm_att"


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
        architecture=architecture_name(cfg),
        source=source,
    )
    spec.save(out_dir)
    return spec, ExportReport(ops, diff)
