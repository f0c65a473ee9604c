"""Tall crops: read them as they are and turned a quarter both ways, keep the clearly more confident reading.

RARE reads one line left to right. A word written top to bottom, or a horizontal word the detector cropped from a
rotated photo, arrives as a crop much taller than wide, which the 32x100 input squeezes into an unreadable sliver.
With the policy on (``orientation`` in ``rare.json``), a crop at least ``min_aspect`` times taller than wide is also
read rotated 90 degrees clockwise and counter-clockwise; a turned reading replaces the upright one only when its mean
character confidence is higher by more than ``margin`` (an upright reading that is right stays, even when a turned
one is about as sure of some other text). Wider crops are read once, as before.

One policy serves every reading path: ``rare eval`` (PyTorch), :class:`rare.onnx_runtime.OnnxRecognizer` (``rare
infer``, the benchmarks) and the gateway, on any backend. Models imported from PaddleOCR have it off, and with it
their parity with PaddleOCR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rare.codec import Recognition
from rare.errors import RareError


class OrientationError(RareError, ValueError):
    """An orientation policy that cannot be applied (a negative aspect or margin)."""


@dataclass(frozen=True)
class Orientation:
    min_aspect: float = 0.0  # height / width from which a crop is also read turned; 0: never (the policy is off)
    margin: float = 0.2  # how much more confident a turned reading must be to replace the upright one

    def __post_init__(self) -> None:
        if self.min_aspect < 0 or self.margin < 0:
            raise OrientationError(f"orientation: min_aspect and margin must be >= 0, got {self}")

    @property
    def enabled(self) -> bool:
        return self.min_aspect > 0

    def is_tall(self, image: np.ndarray) -> bool:
        return self.enabled and image.shape[0] >= self.min_aspect * image.shape[1]

    def views(self, image: np.ndarray) -> list[np.ndarray]:
        """The crop as it is first, then (for a tall crop) turned 90 degrees clockwise and counter-clockwise."""
        if not self.is_tall(image):
            return [image]
        return [image, np.ascontiguousarray(np.rot90(image, -1)), np.ascontiguousarray(np.rot90(image, 1))]

    def expand(self, images: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
        """Crops -> every view to read, and for each view the index of the crop it shows (in order, upright first)."""
        views, owners = [], []
        for index, image in enumerate(images):
            seen = self.views(image)
            views += seen
            owners += [index] * len(seen)
        return views, owners

    def choose(self, readings: Sequence[Recognition], owners: Sequence[int]) -> list[Recognition]:
        """One reading per crop, in crop order: each crop's first reading (the upright view) unless a later one
        (a turned view) is more confident by more than ``margin``. Readings of a crop need not be adjacent."""
        if len(readings) != len(owners):
            raise OrientationError(f"{len(readings)} readings for {len(owners)} views")
        upright: dict[int, Recognition] = {}
        turned: dict[int, Recognition] = {}
        for reading, owner in zip(readings, owners, strict=True):
            if owner not in upright:
                upright[owner] = reading
            elif owner not in turned or reading.confidence > turned[owner].confidence:
                turned[owner] = reading
        chosen = []
        for owner in sorted(upright):
            best = turned.get(owner)
            clear = best is not None and best.confidence > upright[owner].confidence + self.margin
            chosen.append(best if clear else upright[owner])
        return chosen
