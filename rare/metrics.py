"""Recognition metrics by the standard protocol (torch-free; used by eval, training and the FP16 check).

Word accuracy compares lowercase alphanumeric strings: both sides are lowercased and every character outside
[0-9a-z] is dropped before comparing (the protocol of the IIIT5K/SVT/IC13/IC15 benchmarks as PaddleOCR and clovaai
report them). Normalized edit distance is ``1 - mean(levenshtein / max(len))``, as PaddleOCR's RecMetric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

_NON_ALNUM = re.compile(r"[^0-9a-z]")


def normalize_text(text: str) -> str:
    """The evaluation protocol's view of a string: lowercase, [0-9a-z] only."""
    return _NON_ALNUM.sub("", text.lower())


@dataclass
class RecMetric:
    """Accumulates word accuracy and normalized edit distance over (prediction, label) pairs."""

    count: int = 0
    correct: int = 0
    distance_sum: float = 0.0

    def update(self, preds: Iterable[str], labels: Iterable[str]) -> None:
        for raw_pred, raw_label in zip(preds, labels, strict=True):
            pred, label = normalize_text(raw_pred), normalize_text(raw_label)
            self.count += 1
            self.correct += pred == label
            self.distance_sum += Levenshtein.normalized_distance(pred, label)

    def merge(self, other: RecMetric) -> None:
        self.count += other.count
        self.correct += other.correct
        self.distance_sum += other.distance_sum

    @property
    def acc(self) -> float:
        return self.correct / self.count if self.count else 0.0

    @property
    def norm_edit_dis(self) -> float:
        return 1.0 - self.distance_sum / self.count if self.count else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"acc": self.acc, "norm_edit_dis": self.norm_edit_dis, "count": float(self.count)}


def overall(metrics: dict[str, RecMetric]) -> RecMetric:
    """Every dataset's metric merged (sample-weighted)."""
    total = RecMetric()
    for metric in metrics.values():
        total.merge(metric)
    return total


def format_table(rows: dict[str, RecMetric], skipped: dict[str, int] | None = None) -> str:
    """A markdown table: one row per dataset and an overall row (sample-weighted)."""
    skipped = skipped or {}
    lines = ["| dataset | samples | skipped | word accuracy | norm. edit distance |", "|---|---:|---:|---:|---:|"]
    total = RecMetric()
    for name, metric in rows.items():
        total.merge(metric)
        lines.append(
            f"| {name} | {metric.count} | {skipped.get(name, 0)} | {100 * metric.acc:.2f} % | "
            f"{metric.norm_edit_dis:.4f} |"
        )
    if len(rows) > 1:
        lines.append(
            f"| **overall** | {total.count} | {sum(skipped.values())} | {100 * total.acc:.2f} % | "
            f"{total.norm_edit_dis:.4f} |"
        )
    return "\n".join(lines)
