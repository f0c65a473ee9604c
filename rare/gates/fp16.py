"""The FP16 gate (``python -m build_engine verify``): does the FP16 graph read as well as the FP32 one?

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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rare.codec import LabelCodec
from rare.gates.report import GateError, GateReport, label_files, labelled_batches
from rare.labelfile import dataset_name
from rare.metrics import RecMetric
from rare.modelspec import ModelSpec
from rare.onnx_runtime import session_options

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
class Fp16Report(GateReport):
    agreement: dict[str, Agreement] = field(default_factory=dict)

    def sections(self) -> list[str]:
        total = Agreement()
        rows = []
        for name, agreement in self.agreement.items():
            total.merge(agreement)
            rows.append(agreement.row(name))
        header = "| dataset | samples | step argmax agreement | identical ids | identical text | max prob diff "
        return [
            *super().sections(),
            "",
            "FP16 vs FP32",
            header + "| mean prob diff |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            total.row("**overall**"),
        ]


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


def compare_fp16(model_dir: Path, fp16_path: Path, val_dir: Path, threads: int = 1, batch_size: int = 64) -> Fp16Report:
    """FP32 (``model_dir``) and its FP16 graph (``fp16_path``) on every crop of every ``gt.txt`` under ``val_dir``."""
    spec = ModelSpec.load(model_dir)
    if not {"probs", "ids"} <= set(spec.outputs):
        raise GateError(f"{model_dir}: the FP16 gate needs the 'probs' and 'ids' outputs (rare export writes both)")
    sessions = (
        ort.InferenceSession(
            str(model_dir / spec.onnx_file), session_options(threads), providers=["CPUExecutionProvider"]
        ),
        fp16_session(fp16_path, threads),
    )
    report, codec = Fp16Report("FP16", MAX_DROP_POINTS), spec.codec()
    for label_file in label_files(val_dir):
        name = dataset_name(label_file)
        metrics, agreement, skipped = (RecMetric(), RecMetric()), Agreement(), 0
        for images, labels, bad in labelled_batches(label_file, spec, batch_size):
            outputs = [run_probs(session, spec, images) for session in sessions]
            texts = tuple(texts_of(codec, *output) for output in outputs)
            for metric, predicted in zip(metrics, texts, strict=True):
                metric.update(predicted, labels)
            agreement.update(outputs[0], outputs[1], texts)
            skipped += bad
        report.reference[name], report.candidate[name] = metrics
        report.agreement[name], report.skipped[name] = agreement, skipped
    return report
