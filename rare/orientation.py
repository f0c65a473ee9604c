"""How a crop is read: as it is, with its box nudged, and (tall crops) turned a quarter both ways.

RARE reads one line left to right. A word written top to bottom, or a horizontal word the detector cropped from a
rotated photo, arrives as a crop much taller than wide, which the 32x100 input squeezes into an unreadable sliver.
With the policy on (``orientation`` in ``rare.json``), a crop at least ``min_aspect`` times taller than wide is also
read rotated 90 degrees clockwise and counter-clockwise; a turned reading replaces the upright one only when its mean
character confidence is higher by more than ``margin`` (an upright reading that is right stays, even when a turned
one is about as sure of some other text). Wider crops are read once, as before.

A detector's box is never exact: a crop cut a little too tight loses the tops of its letters, one cut too loose
carries a neighbour's edge. With ``nudges`` set, every crop is also read with its box moved in or out: each nudge
``[dx, dy]`` moves the left and right edges by ``dx`` of the crop's width and the top and bottom by ``dy`` of its
height, outward when positive (the border pixels repeated) and inward when negative (trimmed). The most confident
of these upright readings is the crop's reading (test-time augmentation: each nudge costs one more inference per
crop); turned readings of a tall crop still need to beat it by ``margin``.

One policy serves every reading path: ``rare eval`` (PyTorch), :class:`rare.onnx_runtime.OnnxRecognizer` (``rare
infer``, the benchmarks) and the gateway, on any backend. Models imported from PaddleOCR have it off, and with it
their parity with PaddleOCR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rare.codec import Recognition
from rare.errors import RareError


class OrientationError(RareError, ValueError):
    """An orientation policy that cannot be applied (a negative aspect or margin)."""


@dataclass(frozen=True)
class Orientation:
    min_aspect: float = 0.0  # height / width from which a crop is also read turned; 0: never (the policy is off)
    margin: float = 0.2  # how much more confident a turned reading must be to replace the upright one
    # [dx, dy] per extra upright view: its box moved out (positive) or in (negative) by these fractions on each side
    nudges: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.min_aspect < 0 or self.margin < 0:
            raise OrientationError(f"orientation: min_aspect and margin must be >= 0, got {self}")
        for nudge in self.nudges:
            if len(nudge) != 2 or not all(-0.25 <= n <= 0.5 for n in nudge):
                raise OrientationError(f"orientation: a nudge is [dx, dy], each from -0.25 to 0.5, got {nudge}")

    def without_nudges(self) -> Orientation:
        """The same policy reading one upright view per crop (the gateway's RARE_NUDGES=false, speed benchmarks)."""
        return Orientation(self.min_aspect, self.margin) if self.nudges else self

    @property
    def enabled(self) -> bool:
        return self.min_aspect > 0

    def is_tall(self, image: np.ndarray) -> bool:
        return self.enabled and image.shape[0] >= self.min_aspect * image.shape[1]

    def views(self, image: np.ndarray) -> list[np.ndarray]:
        """The crop as it is first, then nudged (one view per nudge), then (for a tall crop) turned 90 degrees
        clockwise and counter-clockwise."""
        upright = [image, *(nudged(image, dx, dy) for dx, dy in self.nudges)]
        if not self.is_tall(image):
            return upright
        return [*upright, np.ascontiguousarray(np.rot90(image, -1)), np.ascontiguousarray(np.rot90(image, 1))]

    def expand(self, images: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
        """Crops -> every view to read, and for each view the index of the crop it shows (in order, upright first)."""
        views, owners = [], []
        for index, image in enumerate(images):
            seen = self.views(image)
            views += seen
            owners += [index] * len(seen)
        return views, owners

    def choose(self, readings: Sequence[Recognition], owners: Sequence[int]) -> list[Recognition]:
        """One reading per crop, in crop order: the most confident of its upright views (the crop as it is wins
        ties), unless a turned view is more confident than that by more than ``margin``. Each crop's readings come
        in the order of :meth:`views`, but need not be adjacent."""
        if len(readings) != len(owners):
            raise OrientationError(f"{len(readings)} readings for {len(owners)} views")
        by_crop: dict[int, list[Recognition]] = {}
        for reading, owner in zip(readings, owners, strict=True):
            by_crop.setdefault(owner, []).append(reading)
        chosen = []
        for owner in sorted(by_crop):
            upright, turned = by_crop[owner][: 1 + len(self.nudges)], by_crop[owner][1 + len(self.nudges) :]
            best = max(upright, key=_confidence)  # the first of equals: the crop as it is
            other = max(turned, key=_confidence, default=None)
            clear = other is not None and other.confidence > best.confidence + self.margin
            chosen.append(other if clear else best)
        return chosen


def _confidence(reading: Recognition) -> float:
    return reading.confidence


def nudged(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` [H, W, C] with its box moved by ``dx`` of its width left and right and ``dy`` of its height top and
    bottom: outward (positive) repeats the border pixels, inward (negative) trims, always keeping a pixel."""
    height, width = image.shape[:2]
    x, y = round(width * abs(dx)), round(height * abs(dy))
    trim_x, trim_y = (min(x, (width - 1) // 2) if dx < 0 else 0), (min(y, (height - 1) // 2) if dy < 0 else 0)
    image = image[trim_y : height - trim_y, trim_x : width - trim_x]
    pad_x, pad_y = (x if dx > 0 else 0), (y if dy > 0 else 0)
    if pad_x or pad_y:
        image = np.pad(image, ((pad_y, pad_y), (pad_x, pad_x), *([(0, 0)] * (image.ndim - 2))), mode="edge")
    return np.ascontiguousarray(image)
