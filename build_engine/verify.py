"""``python -m build_engine verify``: does the FP16 graph read as well as the FP32 one?

Both ONNX files run under ONNX Runtime (CPU) on every crop of every ``gt.txt`` folder under ``--val-dir``; word
accuracy follows the project's protocol (:class:`rare.metrics.RecMetric`). Because a model that reads nothing
(the calibration model) scores ~0 % either way, FP16 is also compared with FP32 step by step: argmax agreement,
identical words and the largest probability difference.

ONNX Runtime's CPU provider has almost no FP16 kernels: it inserts Casts and computes most ops in FP32. The FP16
session therefore runs without graph optimizations, so those Casts stay in place and every FP16 tensor between
two ops is really rounded to FP16 (with optimizations on, Cast pairs are fused away and only the FP16 rounding of
the weights remains). This emulates FP16 storage, not FP16 arithmetic: confirm on the GPU engine itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from build_engine.errors import BuildError
from build_engine.fp16 import convert_to_fp16
from rare.codec import LabelCodec
from rare.data.labelfile import dataset_name, read_label_file
from rare.errors import RareError
from rare.images import read_image
from rare.metrics import RecMetric, format_table, overall
from rare.modelspec import ModelSpec
from rare.onnx_runtime import session_options

log = logging.getLogger("build_engine.verify")

MAX_DROP_POINTS = 0.1  # FP16 may lose at most this many points of word accuracy


@dataclass
class Agreement:
    """FP16 vs FP32 on the same crops."""

    steps: int = 0
    same_steps: int = 0  # per-step argmax (class id) equal
    words: int = 0
    same_ids: int = 0  # all 25 ids equal
    same_text: int = 0  # decoded text equal
    max_prob_diff: float = 0.0  # max |p16 - p32| over every probability
    prob_diff_sum: float = 0.0
    probs: int = 0

    def update(self, fp32: tuple[np.ndarray, ...], fp16: tuple[np.ndarray, ...], texts: tuple[list[str], ...]) -> None:
        (probs32, ids32), (probs16, ids16) = fp32, fp16
        self.steps += ids32.size
        self.same_steps += int((ids32 == ids16).sum())
        self.words += len(ids32)
        self.same_ids += int((ids32 == ids16).all(axis=1).sum())
        self.same_text += sum(a == b for a, b in zip(*texts, strict=True))
        diff = np.abs(probs32 - probs16)
        self.max_prob_diff = max(self.max_prob_diff, float(diff.max()))
        self.prob_diff_sum += float(diff.sum(dtype=np.float64))
        self.probs += diff.size

    def merge(self, other: Agreement) -> None:
        self.steps += other.steps
        self.same_steps += other.same_steps
        self.words += other.words
        self.same_ids += other.same_ids
        self.same_text += other.same_text
        self.max_prob_diff = max(self.max_prob_diff, other.max_prob_diff)
        self.prob_diff_sum += other.prob_diff_sum
        self.probs += other.probs

    def row(self, name: str) -> str:
        return (
            f"| {name} | {self.words} | {100 * self.same_steps / max(1, self.steps):.2f} % | "
            f"{100 * self.same_ids / max(1, self.words):.2f} % | {100 * self.same_text / max(1, self.words):.2f} % | "
            f"{self.max_prob_diff:.4f} | {self.prob_diff_sum / max(1, self.probs):.6f} |"
        )


@dataclass
class VerifyReport:
    fp32: dict[str, RecMetric] = field(default_factory=dict)
    fp16: dict[str, RecMetric] = field(default_factory=dict)
    agreement: dict[str, Agreement] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    max_drop: float = MAX_DROP_POINTS

    @property
    def drop_points(self) -> float:
        """FP32 minus FP16 overall word accuracy, in percentage points."""
        return 100 * (overall(self.fp32).acc - overall(self.fp16).acc)

    @property
    def passed(self) -> bool:
        return round(self.drop_points, 9) <= self.max_drop  # exactly 0.1 point (1 in 1000) passes

    def render(self) -> str:
        total = Agreement()
        rows = []
        for name, agreement in self.agreement.items():
            total.merge(agreement)
            rows.append(agreement.row(name))
        verdict = "OK" if self.passed else "FAIL"
        return "\n".join(
            [
                "FP32 (ONNX Runtime CPU)",
                format_table(self.fp32, self.skipped),
                "",
                "FP16 (ONNX Runtime CPU, FP16 tensors between ops)",
                format_table(self.fp16, self.skipped),
                "",
                "FP16 vs FP32",
                "| dataset | samples | step argmax agreement | identical ids | identical text | max prob diff "
                "| mean prob diff |",
                "|---|---:|---:|---:|---:|---:|---:|",
                *rows,
                total.row("**overall**"),
                "",
                f"{verdict}: FP16 word accuracy drop {self.drop_points:.2f} points (limit {self.max_drop:.2f})",
            ]
        )


def label_files(val_dir: Path) -> list[Path]:
    files = sorted(val_dir.rglob("gt.txt"))
    if not files:
        raise BuildError(f"{val_dir}: no gt.txt found below it")
    return files


def load_crops(label_file: Path, spec: ModelSpec, batch_size: int) -> Iterator[tuple[np.ndarray, list[str], int]]:
    """(images [N, 3, 32, 100], labels, unreadable count) in batches of one label file."""
    entries = read_label_file(label_file)
    for start in range(0, len(entries), batch_size):
        images, labels, bad = [], [], 0
        for entry in entries[start : start + batch_size]:
            try:
                images.append(read_image(entry.path))
                labels.append(entry.label)
            except RareError as exc:
                log.warning("skipped: %s", exc)
                bad += 1
        if images:
            yield spec.preprocess(images), labels, bad


def fp16_session(path: Path, threads: int) -> ort.InferenceSession:
    options = session_options(threads)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # see module docstring
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_probs(session: ort.InferenceSession, spec: ModelSpec, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probs [N, 25, C], ids [N, 25]) of one batch; ids are the argmax the graph itself computed."""
    names = [spec.outputs["probs"].name, spec.outputs["ids"].name]
    probs, ids = session.run(names, {spec.input.name: images})
    return probs.astype(np.float32), ids


def texts_of(codec: LabelCodec, probs: np.ndarray, ids: np.ndarray) -> list[str]:
    return [r.text for r in codec.decode_ids(ids, probs.max(axis=2))]


def verify(
    model_dir: str | Path,
    val_dir: str | Path,
    fp16_path: str | Path | None = None,
    threads: int = 1,
    batch_size: int = 64,
) -> VerifyReport:
    """Convert ``model_dir``'s ONNX to FP16 (``fp16_path``, default ``model_dir/model_fp16.onnx``) and compare."""
    model_dir, val_dir = Path(model_dir), Path(val_dir)
    spec = ModelSpec.load(model_dir)
    if not {"probs", "ids"} <= set(spec.outputs):
        raise BuildError(f"{model_dir}: verify needs the 'probs' and 'ids' outputs (rare export writes both)")
    fp16_path = Path(fp16_path) if fp16_path else model_dir / "model_fp16.onnx"
    result = convert_to_fp16(model_dir / spec.onnx_file, fp16_path)
    log.info("FP16 graph %s: %d nodes kept in FP32", fp16_path, len(result.fp32_nodes))
    sessions = (
        ort.InferenceSession(
            str(model_dir / spec.onnx_file), session_options(threads), providers=["CPUExecutionProvider"]
        ),
        fp16_session(fp16_path, threads),
    )
    report, codec = VerifyReport(), spec.codec()
    for label_file in label_files(val_dir):
        name = dataset_name(label_file)
        metrics, agreement, skipped = (RecMetric(), RecMetric()), Agreement(), 0
        for images, labels, bad in load_crops(label_file, spec, batch_size):
            outputs = [run_probs(session, spec, images) for session in sessions]
            texts = tuple(texts_of(codec, *output) for output in outputs)
            for metric, predicted in zip(metrics, texts, strict=True):
                metric.update(predicted, labels)
            agreement.update(outputs[0], outputs[1], texts)
            skipped += bad
        report.fp32[name], report.fp16[name] = metrics
        report.agreement[name], report.skipped[name] = agreement, skipped
    return report
