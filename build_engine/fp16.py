"""FP16 ONNX (``model_fp16.onnx``) with FP32 islands where RARE's accuracy needs them.

TensorRT 11 has no FP16 builder flag: precision comes from the graph, so the engine is built from this file.
The same node list pins layers to FP32 in the TensorRT 10 build (``BuilderFlag.FP16`` + precision constraints).

Kept in FP32 (inputs are cast up, outputs back down):

* the TPS grid generator (every node under ``/grid_generator/``): its MatMul with the constant 3200 x 23 grid
  matrix turns fiducial points into sampling positions, and an FP16 position is off by up to a tenth of a pixel;
* GridSample (bilinear sampling on those positions);
* Softmax (the 25 attention distributions and the output probabilities);
* ArgMax and ReduceMax (greedy feedback and the final ids/scores: exact on FP32 probabilities, and tiny).

Graph inputs and outputs stay float32 (``keep_io_types``), so ``rare.json`` and ``config.pbtxt`` do not change.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from build_engine.errors import BuildError

log = logging.getLogger("build_engine.fp16")

FP32_OP_TYPES = ("GridSample", "Softmax", "ArgMax", "ReduceMax")
FP32_SCOPES = ("/grid_generator/",)


@dataclass(frozen=True)
class Fp16Result:
    path: Path
    fp32_nodes: list[str]  # nodes kept in FP32
    fp16_ops: dict[str, int]  # op type -> count of nodes computing in FP16
    warnings: list[str]  # what the converter reported (clamped weights, ...)


def fp32_node_names(model: onnx.ModelProto) -> list[str]:
    """Nodes to keep in FP32 (see the module docstring); fails if the TPS grid generator is not found."""
    nodes = model.graph.node
    scoped = [n.name for n in nodes if any(scope in n.name for scope in FP32_SCOPES)]
    if not any(n.op_type == "MatMul" for n in nodes if n.name in set(scoped)):
        raise BuildError(
            f"no MatMul under {list(FP32_SCOPES)} in the graph: cannot find the TPS grid generator to keep it "
            "in FP32 (was the model exported by `rare export`?)"
        )
    return sorted(set(scoped) | {n.name for n in nodes if n.op_type in FP32_OP_TYPES})


def convert_to_fp16(src: str | Path, dst: str | Path) -> Fp16Result:
    """Write the FP16 version of ``src`` to ``dst`` and return what was kept in FP32."""
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    inline_initializer_aliases(model)
    keep = fp32_node_names(model)
    float_outputs = {o.name for o in model.graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        converted = float16.convert_float_to_float16(
            model,
            keep_io_types=True,
            op_block_list=[*float16.DEFAULT_OP_BLOCK_LIST, *FP32_OP_TYPES],
            node_block_list=keep,
        )
    restore_float_outputs(converted, float_outputs, set(keep))
    onnx.checker.check_model(converted)
    onnx.save(converted, str(dst))
    messages = sorted({str(w.message) for w in caught})
    if messages:
        log.info("float16 converter: %d notes, e.g. %s", len(messages), "; ".join(messages[:2]))
    return Fp16Result(Path(dst), keep, fp16_op_counts(converted), messages)


def inline_initializer_aliases(model: onnx.ModelProto) -> None:
    """Replace ``Identity(initializer)`` nodes (the exporter's de-duplicated weights) by copies of the weight.

    The converter types such an alias by one of its readers; when readers on both sides of an FP32/FP16 boundary
    share it, the graph no longer type-checks. Separate copies are converted (or kept) with their own readers.
    """
    weights = {w.name: w for w in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    aliases = [n for n in model.graph.node if n.op_type == "Identity" and n.input[0] in weights]
    for node in aliases:
        if node.output[0] in outputs:
            continue
        copy = onnx.TensorProto()
        copy.CopyFrom(weights[node.input[0]])
        copy.name = node.output[0]
        model.graph.initializer.append(copy)
        model.graph.node.remove(node)


def restore_float_outputs(model: onnx.ModelProto, float_outputs: set[str], fp32_nodes: set[str]) -> None:
    """Make every originally-float32 graph output float32 again.

    ``keep_io_types`` misses outputs produced by a blocked node: the converter appends a Cast to FP16 that writes
    the graph output itself (here ``probs`` after the FP32 Softmax, ``scores`` after the FP32 ReduceMax). The
    graph output gets the FP32 value through an Identity; FP32 consumers read it too, FP16 consumers read the
    Cast (renamed), and the Cast is dropped when nothing reads it.
    """
    nodes = list(model.graph.node)
    producers = {out: node for node in nodes for out in node.output}
    for output in model.graph.output:
        cast = producers.get(output.name)
        if output.name not in float_outputs or cast is None or not is_cast_to_fp16(cast):
            continue
        internal = f"{output.name}__fp16"
        fp16_readers = [n for n in nodes if output.name in n.input and n.name not in fp32_nodes]
        for reader in fp16_readers:
            reader.input[:] = [internal if name == output.name else name for name in reader.input]
        cast.output[:] = [internal]
        identity = helper.make_node("Identity", [cast.input[0]], [output.name], f"{output.name}__fp32")
        position = nodes.index(cast)
        nodes[position : position + 1] = [identity, cast] if fp16_readers else [identity]
        output.type.tensor_type.elem_type = TensorProto.FLOAT
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def is_cast_to_fp16(node: onnx.NodeProto) -> bool:
    return node.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.FLOAT16 for a in node.attribute)


def fp16_op_counts(model: onnx.ModelProto) -> dict[str, int]:
    """Op type -> number of nodes with an FP16 output (inferred types), Casts excluded."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.value_info, *inferred.graph.output)}
    counts = Counter(
        node.op_type
        for node in inferred.graph.node
        if node.op_type != "Cast" and any(types.get(out) == TensorProto.FLOAT16 for out in node.output)
    )
    return dict(sorted(counts.items()))
