"""What every graph the project ships must be, checked without torch: ``onnx.checker`` passes with full shape
inference, the decoder is unrolled (no Loop/Scan/If), there is no float64 and no ``Inverse``, every op is one that
TensorRT 10's ONNX parser supports, and no weight is vanishing.

Vanishing weights (0 < |w| < 1e-20) come from Adam with L2 regularization, which drives weights that get no gradient
geometrically toward zero until they sit near or below float32's smallest normal number (1.2e-38). Every multiply
that touches one may run on the CPU's microcoded denormal path. With activations below 1e4, such a weight moves an
output by less than 1e-16, a billion times below float32's resolution at 1, so zeroing it changes nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx

from rare.errors import RareError

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
VANISHING = 1e-20
# |w| < VANISHING compared on the bits, not as floats: where denormals-are-zero is set (PyTorch training), the CPU
# reads a subnormal input as 0, so a float comparison would call it zero and leave it in place.
ABS_MASK = 0x7FFFFFFF
VANISHING_BITS = int(np.float32(VANISHING).view(np.int32))


class GraphError(RareError, ValueError):
    """The graph is not clean (see the module docstring)."""


def vanishing_mask(array: np.ndarray) -> np.ndarray:
    """True where a float32 array holds 0 < |w| < :data:`VANISHING`, judged on the bits."""
    if array.dtype != np.float32:
        return np.zeros(array.shape, dtype=bool)  # float16 cannot hold 1e-20; graphs carry no float64
    magnitude = array.view(np.int32) & ABS_MASK  # the bits of |w|, ordered as |w| is
    return (magnitude != 0) & (magnitude < VANISHING_BITS)


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
    """Raise :class:`GraphError` unless the graph is clean (see module docstring); returns op counts."""
    model = onnx.load(str(path))
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise GraphError(f"{path}: onnx.checker failed: {exc}") from None
    ops = Counter(node.op_type for node in model.graph.node)
    unsupported = sorted(set(ops) - TENSORRT_OPS)
    if unsupported:
        raise GraphError(f"{path}: ops outside the TensorRT-supported set: {unsupported}")
    tensors = list(model.graph.initializer) + [
        a.t for node in model.graph.node for a in node.attribute if a.type == onnx.AttributeProto.TENSOR
    ]
    typed = [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output, *model.graph.value_info)]
    dtypes = {t.data_type for t in tensors} | set(typed)
    bad = sorted(FORBIDDEN_DTYPES[d] for d in dtypes if d in FORBIDDEN_DTYPES)
    if bad:
        raise GraphError(f"{path}: graph holds {bad} tensors (TensorRT has no float64)")
    vanishing = count_vanishing(model)
    if vanishing:
        raise GraphError(f"{path}: {vanishing} vanishing weights (0 < |w| < {VANISHING:g}) slow every CPU kernel")
    return dict(sorted(ops.items()))
