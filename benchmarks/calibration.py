"""Confidence users can act on: on real_val, word accuracy against coverage when readings below a confidence
threshold are rejected, a calibration (reliability) plot, and the threshold that gives 95 % precision.

    python -m benchmarks.calibration [--model-dir models/rare_mv3_en]

A reading's confidence is what the gateway answers: the mean of its per-character probabilities.
"""

from __future__ import annotations

from typing import Any

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
CONFIDENCE = "confidence"  # what the gateway answers: the mean of the per-character probabilities (as PaddleOCR)
PRODUCT = "product of char_confidences"  # the word's probability under the greedy decoder


def readings(recognizer: OnnxRecognizer) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Two scores of every real_val crop (the answered confidence, and the product of its character confidences,
    the decoder's probability of the whole word), and whether the reading was correct."""
    scores: dict[str, list[float]] = {CONFIDENCE: [], PRODUCT: []}
    correct = []
    for folder in FOLDERS:
        entries = read_label_file(SHARED / "data" / "real_val" / folder / "gt.txt")
        for batch in read_batches([e.path for e in entries], 64):
            for position, found in zip(batch.positions, recognizer.recognize(batch.images), strict=True):
                scores[CONFIDENCE].append(found.confidence)
                scores[PRODUCT].append(float(np.prod(found.char_confidences)) if found.char_confidences else 0.0)
                correct.append(normalize_text(found.text) == normalize_text(entries[position].label))
    return {name: np.asarray(values) for name, values in scores.items()}, np.asarray(correct)


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


def calibration_of(confidence: np.ndarray, correct: np.ndarray) -> dict:
    """Coverage table, the 95 %-precision threshold, reliability bins and expected calibration error of a score."""
    bins = reliability(confidence, correct)
    ece = sum(b["crops"] * abs(b["confidence"] - b["accuracy"]) for b in bins) / len(confidence)
    return {
        "coverage": coverage_table(confidence, correct),
        "threshold_95": threshold_for(confidence, correct),
        "reliability": bins,
        "ece": ece,
    }


def sections_of(model_dir: Any, results: dict[str, dict], correct: np.ndarray) -> list[str]:
    main, product = results[CONFIDENCE], results[PRODUCT]
    best = main["threshold_95"]
    return [
        f"Model: `{shown(model_dir)}`, {len(correct)} real_val crops, word accuracy {100 * correct.mean():.1f} %. "
        f"For {100 * PRECISION_GOAL:.0f} % precision reject readings whose `confidence` is below "
        f"**{best['threshold']:.3f}**: {100 * best['coverage']:.1f} % of crops are kept, "
        f"{100 * best['precision']:.1f} % of them correct. `confidence` is the mean of the character probabilities "
        "(as PaddleOCR answers it); the product of `char_confidences` is the decoder's probability of the word.",
        markdown_table(
            ["score", f"threshold for {100 * PRECISION_GOAL:.0f} % precision", "crops kept", "calibration error"],
            [
                [
                    name,
                    f"{r['threshold_95']['threshold']:.3f}",
                    f"{100 * r['threshold_95']['coverage']:.1f} %",
                    f"{r['ece']:.3f}",
                ]
                for name, r in results.items()
            ],
        ),
        markdown_table(
            ["reject below", "crops kept", "accuracy of kept"],
            [
                [f"{r['threshold']:.2f}", f"{100 * r['coverage']:.1f} %", f"{100 * r['precision']:.1f} %"]
                for r in main["coverage"]
            ],
        ),
        markdown_table(
            ["bin", "crops", "mean confidence", "accuracy", "crops (product)", "mean product", "accuracy (product)"],
            _bins_side_by_side(main["reliability"], product["reliability"]),
        ),
        "![calibration](calibration.png)",
    ]


def _cells(b: dict | None) -> list:
    return [b["crops"], f"{b['confidence']:.3f}", f"{b['accuracy']:.3f}"] if b else [0, "-", "-"]


def _bins_side_by_side(first: list[dict], second: list[dict]) -> list[list]:
    """One row per confidence bin: the answered confidence's crops and accuracy, then the product's."""
    mine, theirs = {b["bin"]: b for b in first}, {b["bin"]: b for b in second}
    return [[name, *_cells(mine.get(name)), *_cells(theirs.get(name))] for name in sorted(set(mine) | set(theirs))]


def main() -> None:
    args = base_parser(__doc__.split("\n\n")[0], seconds=0.0).parse_args()
    check_model_dir(args.model_dir)
    scores, correct = readings(OnnxRecognizer(args.model_dir, threads=1))
    results = {name: calibration_of(score, correct) for name, score in scores.items()}
    kept = {
        n: ([r["coverage"] for r in c["coverage"]], [r["precision"] for r in c["coverage"]]) for n, c in results.items()
    }
    calibrated = {
        n: ([b["confidence"] for b in c["reliability"]], [b["accuracy"] for b in c["reliability"]])
        for n, c in results.items()
    }
    save_curves(
        args.out / "calibration.png",
        [
            ("Rejecting low confidence", "share of crops kept", "accuracy of the kept", kept),
            (
                "Calibration (real_val)",
                "mean score in the bin",
                "accuracy in the bin",
                {**calibrated, "ideal": ([0, 1], [0, 1])},
            ),
        ],
    )
    data = {**results[CONFIDENCE], "by_score": results}
    write_results(
        args.out,
        "calibration",
        "Confidence: accuracy against coverage, and calibration",
        sections_of(args.model_dir, results, correct),
        data,
    )


if __name__ == "__main__":
    main()
