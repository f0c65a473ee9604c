"""Confidence users can act on: on real_val, word accuracy against coverage when readings below a confidence
threshold are rejected, a calibration (reliability) plot, and the threshold that gives 95 % precision.

    python -m benchmarks.calibration [--model-dir models/rare_mv3_en]

A reading's confidence is what the gateway answers: the mean of its per-character probabilities.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import FOLDERS, SHARED, base_parser, check_model_dir, markdown_table, shown, write_results
from benchmarks.plots import save_curves
from rare.images import read_batches
from rare.labelfile import read_label_file
from rare.metrics import normalize_text
from rare.onnx_runtime import OnnxRecognizer

THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)
PRECISION_GOAL = 0.95
BINS = np.linspace(0.0, 1.0, 11)


def readings(recognizer: OnnxRecognizer) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) of every real_val crop."""
    confidence, correct = [], []
    for folder in FOLDERS:
        entries = read_label_file(SHARED / "data" / "real_val" / folder / "gt.txt")
        for batch in read_batches([e.path for e in entries], 64):
            for position, found in zip(batch.positions, recognizer.recognize(batch.images), strict=True):
                confidence.append(found.confidence)
                correct.append(normalize_text(found.text) == normalize_text(entries[position].label))
    return np.asarray(confidence), np.asarray(correct)


def coverage_table(confidence: np.ndarray, correct: np.ndarray) -> list[dict]:
    rows = []
    for threshold in THRESHOLDS:
        kept = confidence >= threshold
        rows.append(
            {
                "threshold": threshold,
                "coverage": float(kept.mean()),
                "precision": float(correct[kept].mean()) if kept.any() else float("nan"),
            }
        )
    return rows


def threshold_for(confidence: np.ndarray, correct: np.ndarray, goal: float = PRECISION_GOAL) -> dict:
    """The lowest threshold whose kept readings are at least ``goal`` correct (the most coverage at that goal)."""
    for threshold in np.unique(np.round(confidence, 3)):
        kept = confidence >= threshold
        if correct[kept].mean() >= goal:
            return {
                "threshold": float(threshold),
                "coverage": float(kept.mean()),
                "precision": float(correct[kept].mean()),
            }
    return {"threshold": 1.0, "coverage": 0.0, "precision": float("nan")}


def reliability(confidence: np.ndarray, correct: np.ndarray) -> list[dict]:
    rows = []
    for low, high in zip(BINS[:-1], BINS[1:], strict=True):
        inside = (confidence >= low) & ((confidence < high) | (high == 1.0))
        if inside.any():
            rows.append(
                {
                    "bin": f"{low:.1f}-{high:.1f}",
                    "crops": int(inside.sum()),
                    "confidence": float(confidence[inside].mean()),
                    "accuracy": float(correct[inside].mean()),
                }
            )
    return rows


def main() -> None:
    args = base_parser(__doc__.split("\n\n")[0], seconds=0.0).parse_args()
    check_model_dir(args.model_dir)
    confidence, correct = readings(OnnxRecognizer(args.model_dir, threads=1))
    table, best, bins = (
        coverage_table(confidence, correct),
        threshold_for(confidence, correct),
        reliability(confidence, correct),
    )
    ece = sum(b["crops"] * abs(b["confidence"] - b["accuracy"]) for b in bins) / len(confidence)
    sections = [
        f"Model: `{shown(args.model_dir)}`, {len(confidence)} real_val crops, "
        f"word accuracy {100 * correct.mean():.1f} %. "
        f"For {100 * PRECISION_GOAL:.0f} % precision reject readings below **{best['threshold']:.3f}**: "
        f"{100 * best['coverage']:.1f} % of crops are kept, {100 * best['precision']:.1f} % of them correct. "
        f"Expected calibration error (10 bins): {ece:.3f}.",
        markdown_table(
            ["reject below", "crops kept", "accuracy of kept"],
            [[f"{r['threshold']:.2f}", f"{100 * r['coverage']:.1f} %", f"{100 * r['precision']:.1f} %"] for r in table],
        ),
        markdown_table(
            ["confidence bin", "crops", "mean confidence", "accuracy"],
            [[b["bin"], b["crops"], f"{b['confidence']:.3f}", f"{b['accuracy']:.3f}"] for b in bins],
        ),
        "![calibration](calibration.png)",
    ]
    kept = {"RARE": ([r["coverage"] for r in table], [r["precision"] for r in table])}
    calibrated = {"RARE": ([b["confidence"] for b in bins], [b["accuracy"] for b in bins]), "ideal": ([0, 1], [0, 1])}
    save_curves(
        args.out / "calibration.png",
        [
            ("Rejecting low confidence", "share of crops kept", "accuracy of the kept", kept),
            ("Calibration (real_val)", "mean confidence in the bin", "accuracy in the bin", calibrated),
        ],
    )
    data = {"coverage": table, "threshold_95": best, "reliability": bins, "ece": ece}
    write_results(args.out, "calibration", "Confidence: accuracy against coverage, and calibration", sections, data)


if __name__ == "__main__":
    main()
