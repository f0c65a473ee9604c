"""Word accuracy of any recognizer on labelled crops, by the project's protocol (rare.metrics)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from benchmarks.common import Crop
from rare.metrics import RecMetric, normalize_text

Predict = Callable[[list[np.ndarray]], list[str]]  # BGR crops -> texts, in order


def predict_all(predict: Predict, crops: Sequence[Crop], batch: int = 64) -> list[str]:
    """Texts for every crop, ``batch`` crops per call."""
    texts: list[str] = []
    for start in range(0, len(crops), batch):
        texts.extend(predict([c.image for c in crops[start : start + batch]]))
    return texts


def word_accuracy(texts: Sequence[str], crops: Sequence[Crop]) -> float:
    """Percent of crops whose text equals the label (lowercase, [0-9a-z] only)."""
    metric = RecMetric()
    metric.update(texts, [c.label for c in crops])
    return 100 * metric.acc


def agreement(texts: Sequence[str], reference: Sequence[str]) -> float:
    """Percent of crops where two recognizers give the same normalized text (fidelity of a quantized model)."""
    same = sum(normalize_text(a) == normalize_text(b) for a, b in zip(texts, reference, strict=True))
    return 100 * same / len(texts) if texts else float("nan")
