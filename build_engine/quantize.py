"""``python -m build_engine quantize``: an INT8 model directory for the CPU, gated on word accuracy.

ONNX Runtime static quantization (QDQ): INT8 per-channel weights, UINT8 activations calibrated (MinMax) on real
training crops, every op the quantizer supports except build_engine.fp16's FP32 list (the TPS grid generator,
GridSample, Softmax, ArgMax/ReduceMax). Then FP32 and INT8 read every ``gt.txt`` folder under ``--val-dir``; the
INT8 directory is written only if it loses at most ``--max-drop`` points of word accuracy. Its inputs and outputs are
the FP32 model's, so the gateway (``RARE_MODEL_DIR``) and the ``python``/``onnxruntime`` Triton targets take it as is.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_dynamic

from build_engine.errors import BuildError
from build_engine.fp16 import fp32_node_names
from build_engine.sensitivity import LayerSensitivity, keep_least_tolerant, prepare, static_int8, sweep
from rare.errors import RareError
from rare.gates.int8 import MAX_DROP_POINTS, compare_int8
from rare.gates.report import GateReport, label_files
from rare.images import read_batches
from rare.labelfile import read_label_file
from rare.modelspec import ModelSpec

log = logging.getLogger("build_engine.quantize")
METHODS = ("dynamic", "static")
DYNAMIC_OPS = ["MatMul", "Gemm", "LSTM"]  # the BiLSTM and the attention decoder; the convolutions stay FP32


class CalibrationBatches(CalibrationDataReader):
    """Preprocessed batches [N, 3, 32, 100] fed to the calibrator one at a time."""

    def __init__(self, batches: list[np.ndarray], input_name: str) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter([{input_name: b} for b in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def make_static(
    source: Path,
    target: Path,
    ops: list[str] | None,
    keep_fp32: list[str],
    batches: list[np.ndarray],
    input_name: str,
    reduce_range: bool = False,
    keep_layers: int = 0,
) -> list[LayerSensitivity]:
    """``target/model.onnx``: QDQ-quantize ``ops`` (None: every op the quantizer supports), calibrated on
    ``batches``, leaving ``keep_fp32`` nodes alone, and also the ``keep_layers`` least tolerant layers found by the
    per-layer sweep (build_engine.sensitivity; run only if ``keep_layers`` > 0). Returns the sweep, least tolerant
    first ([] without one)."""
    with tempfile.TemporaryDirectory(prefix="rare-quant-") as tmp:
        work = Path(tmp)
        prepared = prepare(source, work / "prepared.onnx")
        cache = work / "ranges.json"
        ranked: list[LayerSensitivity] = []
        if keep_layers > 0:
            static_int8(prepared, work / "calibrated.onnx", CalibrationBatches(batches, input_name), cache, keep_fp32)
            ranked = sweep(prepared, work, batches, input_name, keep_fp32, cache)
            keep_fp32 = keep_least_tolerant(ranked, keep_layers, onnx.load(str(prepared)), keep_fp32)
        reader = None if cache.exists() else CalibrationBatches(batches, input_name)
        static_int8(prepared, target / "model.onnx", reader, cache, keep_fp32, ops=ops, reduce_range=reduce_range)
    return ranked


def make_dynamic(source: Path, target: Path, ops: list[str] | None, keep_fp32: list[str]) -> None:
    """``target/model.onnx``: INT8 weights of ``ops`` (None: every op the quantizer supports), activations quantized
    at run time, ``keep_fp32`` nodes left alone."""
    quantize_dynamic(
        source, target / "model.onnx", op_types_to_quantize=ops, weight_type=QuantType.QInt8, nodes_to_exclude=keep_fp32
    )


def calibration_batches(calib_dir: Path, count: int, spec: ModelSpec, batch: int = 16) -> list[np.ndarray]:
    """``count`` crops spread evenly over every ``gt.txt`` below ``calib_dir``, preprocessed, in batches."""
    if count < 1:
        raise BuildError(f"--calib-crops must be at least 1, got {count}")
    entries = [e for f in label_files(calib_dir) for e in read_label_file(f)]
    picked = [entries[(i * len(entries)) // count] for i in range(min(count, len(entries)))]
    batches = []
    for crops in read_batches([e.path for e in picked], batch):
        for path, exc in crops.failed:
            log.warning("calibration crop %s skipped: %s", path, exc)
        if crops.images:
            batches.append(spec.preprocess(crops.images))
    if not batches:
        raise BuildError(f"{calib_dir}: no readable calibration crops")
    return batches


def quantize(
    model_dir: Path,
    out_dir: Path,
    calib_dir: Path,
    val_dir: Path,
    calib_crops: int = 256,
    threads: int = 1,
    max_drop: float = MAX_DROP_POINTS,
    method: str = "dynamic",
    keep_layers: int = 0,
) -> GateReport:
    """Write ``out_dir`` (model.onnx + rare.json) if INT8 keeps the accuracy; ``out_dir`` is untouched otherwise."""
    if method not in METHODS:
        raise BuildError(f"--method {method!r}: choose from {', '.join(METHODS)}")
    if keep_layers < 0 or (keep_layers and method != "static"):
        raise BuildError(f"--keep-fp32-layers {keep_layers}: a count >= 0, and only with --method static")
    spec = ModelSpec.load(model_dir)
    out, src = out_dir.resolve(), model_dir.resolve()
    if out == src or out in src.parents or src in out.parents:
        raise BuildError(f"--out {out_dir} must lie outside --model-dir {model_dir} (it is replaced)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.", dir=out_dir.parent) as tmp:
        staging = Path(tmp) / "model"
        staging.mkdir()
        how = quantize_into(staging, model_dir / spec.onnx_file, spec, method, (calib_dir, calib_crops), keep_layers)
        int8 = dataclasses.replace(spec, model_version=f"{spec.model_version}-int8", onnx_file="model.onnx", source=how)
        int8.save(staging)
        report = compare_int8(model_dir, staging, val_dir, threads, max_drop)
        if report.passed:
            swap_in(staging, out_dir, Path(tmp) / "previous")
    return report


def quantize_into(
    staging: Path, source: Path, spec: ModelSpec, method: str, calib: tuple[Path, int], keep_layers: int
) -> str:
    """``staging/model.onnx`` by ``method``, calibrated on ``calib`` (folder, crops) if static; returns a one-line
    description for rare.json's ``source``."""
    keep_fp32 = fp32_node_names(onnx.load(str(source)))
    try:
        if method == "dynamic":
            make_dynamic(source, staging, DYNAMIC_OPS, keep_fp32)
            return f"INT8 (dynamic: {', '.join(DYNAMIC_OPS)} weights) of {source}"
        batches = calibration_batches(*calib, spec)
        log.info("calibrating on %d crops from %s", sum(len(b) for b in batches), calib[0])
        ranked = make_static(source, staging, None, keep_fp32, batches, spec.input.name, keep_layers=keep_layers)
        kept = "".join(f"; {r.layer} kept FP32 ({r.sqnr_db:.1f} dB alone)" for r in ranked[:keep_layers])
        return f"INT8 (static QDQ, {sum(len(b) for b in batches)} calibration crops{kept}) of {source}"
    except RareError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnx/onnxruntime raise their own types; name the model
        raise BuildError(f"{source}: quantization failed: {type(exc).__name__}: {exc}") from exc


def swap_in(staging: Path, out_dir: Path, parked: Path) -> None:
    """Replace ``out_dir`` by ``staging`` with two renames (same filesystem); the previous one is put back if the
    second rename fails, and deleted with ``parked``'s temporary directory otherwise."""
    had_previous = out_dir.exists() or out_dir.is_symlink()
    if had_previous:
        out_dir.rename(parked)
    try:
        staging.rename(out_dir)
    except OSError:
        if had_previous:
            parked.rename(out_dir)
        raise
