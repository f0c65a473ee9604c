"""What every gate shares: reading labelled crops in batches, and a report of FP32 vs the derived model."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rare.errors import RareError
from rare.images import read_batches
from rare.labelfile import read_label_file
from rare.metrics import RecMetric, format_table, overall
from rare.modelspec import ModelSpec

log = logging.getLogger("rare.gates")


class GateError(RareError, ValueError):
    """A gate cannot run: no labelled crops, or a model without the outputs it compares."""


def label_files(val_dir: Path) -> list[Path]:
    """Every ``gt.txt`` below ``val_dir`` (one dataset each), sorted."""
    files = sorted(Path(val_dir).rglob("gt.txt"))
    if not files:
        raise GateError(f"{val_dir}: no gt.txt found below it")
    return files


def labelled_batches(label_file: Path, spec: ModelSpec, batch_size: int) -> Iterator[tuple[np.ndarray, list[str], int]]:
    """(model input batch, labels, unreadable count) for the crops of one label file, ``batch_size`` at a time."""
    entries = read_label_file(label_file)
    for batch in read_batches([e.path for e in entries], batch_size):
        for path, exc in batch.failed:
            log.warning("skipped %s: %s", path, exc)
        if batch.images:
            yield spec.preprocess(batch.images), [entries[i].label for i in batch.positions], len(batch.failed)


@dataclass
class GateReport:
    """Word accuracy of the reference (FP32) and the candidate per dataset, and whether the drop is allowed."""

    candidate_name: str  # "FP16", "INT8", "openvino-bf16"
    max_drop: float  # percentage points the candidate may lose
    reference: dict[str, RecMetric] = field(default_factory=dict)
    candidate: dict[str, RecMetric] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    candidate_runtime: str = "ONNX Runtime CPU"

    @property
    def drop_points(self) -> float:
        """Reference minus candidate overall word accuracy, in percentage points."""
        return 100 * (overall(self.reference).acc - overall(self.candidate).acc)

    @property
    def passed(self) -> bool:
        return round(self.drop_points, 9) <= self.max_drop  # a drop of exactly the limit passes

    def sections(self) -> list[str]:
        return [
            "FP32 (ONNX Runtime CPU)",
            format_table(self.reference, self.skipped),
            "",
            f"{self.candidate_name} ({self.candidate_runtime})",
            format_table(self.candidate, self.skipped),
        ]

    def render(self) -> str:
        verdict = "OK" if self.passed else "FAIL"
        drop = f"{self.candidate_name} word accuracy drop {self.drop_points:.2f} points (limit {self.max_drop:.2f})"
        return "\n".join([*self.sections(), "", f"{verdict}: {drop}"])
