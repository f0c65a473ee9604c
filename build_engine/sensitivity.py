"""Which layers lose most when quantized to INT8: a per-layer sweep for ONNX Runtime static (QDQ) quantization.

A *layer* is a module of the exported graph (``/model/backbone/blocks/blocks.3``, ``/model/head/attention_cell/h2h``):
every node under one module path, the decoder's 25 unrolled steps counted as one layer (``attention_cell_7`` is
``attention_cell``). The sweep quantizes one layer at a time, everything else left FP32, and measures how far the
model's output probabilities move from FP32 on calibration crops: the signal-to-quantization-noise ratio (SQNR, dB;
lower is worse) and the share of crops whose text changes. Calibration runs once (ONNX Runtime's calibration cache),
so each layer costs one graph rewrite and one pass over the crops. The least tolerant layers are then kept in FP32
(``make_static(..., keep_fp32=...)``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from rare.onnx_runtime import session_options

STEP_SUFFIX = re.compile(r"_\d+$")  # attention_cell_7 -> attention_cell: the unrolled decoder steps
LAYER_DEPTH = 4  # path components that name a layer: /model/backbone/blocks/blocks.3


@dataclass(frozen=True)
class LayerSensitivity:
    layer: str
    nodes: int
    sqnr_db: float  # output probabilities, only this layer quantized, against FP32
    changed: float  # share of crops whose greedy text changes


def prepare(source: Path, prepared: Path) -> Path:
    """Shape-infer and optimize ``source`` first (ONNX Runtime's recommended pre-processing for quantization)."""
    quant_pre_process(source, prepared, skip_symbolic_shape=True)
    return prepared


def static_int8(
    prepared: Path,
    target: Path,
    calibration: CalibrationDataReader | None,
    cache: Path,
    keep_fp32: list[str],
    nodes: list[str] | None = None,
    ops: list[str] | None = None,
    reduce_range: bool = False,
) -> None:
    """QDQ-quantize ``prepared`` into ``target``: per-channel INT8 weights, UINT8 MinMax-calibrated activations,
    ``keep_fp32`` nodes left alone; only ``nodes`` / ``ops`` if given (None: every node / op the quantizer supports).
    The activation ranges come from ``cache`` if it exists, from ``calibration`` otherwise (and are saved there)."""
    quantize_static(
        prepared,
        target,
        calibration,
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=ops,
        per_channel=True,
        reduce_range=reduce_range,  # 7-bit weights: avoids VPMADDUBSW saturation on CPUs without VNNI
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=nodes,
        nodes_to_exclude=keep_fp32,
        calibration_cache_path=cache,
    )


def layer_of(node_name: str) -> str:
    """``/model/head/attention_cell_7/Gemm`` -> ``/model/head/attention_cell``."""
    parts = [STEP_SUFFIX.sub("", p) for p in node_name.split("/")[:-1]]
    return "/".join(parts[: LAYER_DEPTH + 1]) or "/"


def layers(model: onnx.ModelProto, keep_fp32: list[str]) -> dict[str, list[str]]:
    """Node names by layer, in graph order; ``keep_fp32`` nodes and unnamed nodes left out."""
    kept = set(keep_fp32)
    grouped: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.name and node.name not in kept:
            grouped.setdefault(layer_of(node.name), []).append(node.name)
    return grouped


def outputs(model: Path, batches: list[np.ndarray], input_name: str) -> list[np.ndarray]:
    """The first output (probabilities [N, steps, classes]) of every batch."""
    session = ort.InferenceSession(str(model), session_options(1), providers=["CPUExecutionProvider"])
    return [session.run(None, {input_name: b})[0] for b in batches]


def sqnr_db(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    ref, oth = np.concatenate(reference).astype(np.float64), np.concatenate(other).astype(np.float64)
    noise = float(np.linalg.norm(ref - oth))
    return math.inf if noise == 0 else 20 * math.log10(float(np.linalg.norm(ref)) / noise)


def changed_share(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    """Share of crops whose greedy class sequence (the text, and what follows the end token) differs."""
    ref, oth = np.concatenate(reference), np.concatenate(other)  # [N, steps, classes]
    return 1.0 - float(np.mean(np.all(ref.argmax(-1) == oth.argmax(-1), axis=1)))


def sweep(
    prepared: Path, work: Path, batches: list[np.ndarray], input_name: str, keep_fp32: list[str], cache: Path
) -> list[LayerSensitivity]:
    """Every layer quantized alone, least tolerant first; layers the quantizer leaves unchanged (the LSTM: ONNX
    Runtime has no QDQ form of it) are left out. ``cache`` must hold the calibration already."""
    reference = outputs(prepared, batches, input_name)
    results = []
    target = work / "layer.onnx"
    for layer, nodes in layers(onnx.load(str(prepared)), keep_fp32).items():
        static_int8(prepared, target, None, cache, keep_fp32, nodes=nodes)
        quantized = outputs(target, batches, input_name)
        noise = sqnr_db(reference, quantized)
        if math.isfinite(noise):
            results.append(LayerSensitivity(layer, len(nodes), noise, changed_share(reference, quantized)))
    target.unlink(missing_ok=True)
    return sorted(results, key=lambda r: r.sqnr_db)


def keep_least_tolerant(
    ranked: list[LayerSensitivity], count: int, prepared: onnx.ModelProto, keep_fp32: list[str]
) -> list[str]:
    """``keep_fp32`` plus every node of the ``count`` least tolerant layers of ``ranked``."""
    chosen = {r.layer for r in ranked[:count]}
    grouped = layers(prepared, keep_fp32)
    return sorted(set(keep_fp32) | {n for layer in chosen for n in grouped.get(layer, [])})
