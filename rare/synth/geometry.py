"""Where the word lands in the crop: aspect change, shear, perspective taper, rotation and detector-like margins,
all in one perspective matrix so the text masks are resampled once.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rare.synth.layout import Box


@dataclass(frozen=True)
class Placement:
    """Perspective matrix from text-mask to crop coordinates, the crop size, and the overall scale factor."""

    matrix: np.ndarray
    width: int
    height: int
    scale: float


def _rotation_deg(rng: np.random.Generator) -> float:
    """Mostly near-horizontal text; sometimes tilted, rarely steep."""
    kind = rng.random()
    if kind < 0.75:
        return float(rng.normal(0.0, 2.0))
    if kind < 0.96:
        return float(rng.uniform(-15, 15))
    return float(rng.uniform(-35, 35))


def _target_quad(rng: np.random.Generator, width: float, height: float) -> np.ndarray:
    """The four corners (TL, TR, BR, BL) the word's ink box maps to, centred on the origin."""
    stretch = float(np.exp(rng.normal(0.0, 0.15)))
    w, h = width * stretch, height
    shear = rng.normal(0.0, 0.08) if rng.random() < 0.8 else rng.uniform(-0.4, 0.4)
    taper = rng.normal(0.0, 0.05) if rng.random() < 0.8 else rng.uniform(-0.25, 0.25)
    tilt = rng.normal(0.0, 0.04)
    left_h, right_h = h * (1 + taper) / 2, h * (1 - taper) / 2
    top_w, bottom_w = w * (1 + tilt) / 2, w * (1 - tilt) / 2
    quad = np.array(
        [[-top_w, -left_h], [top_w, -right_h], [bottom_w, right_h], [-bottom_w, left_h]],
        dtype=np.float64,
    )
    quad[:, 0] -= shear * quad[:, 1]
    quad += rng.normal(0.0, 0.015 * h, size=(4, 2))
    angle = np.deg2rad(_rotation_deg(rng))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return quad @ rot.T


def _margins(rng: np.random.Generator, text_h: float) -> tuple[float, float, float, float]:
    """Left, top, right, bottom margins: usually a few pixels, sometimes generous, rarely cutting into the ink."""
    horizontal = text_h * (0.35 * rng.beta(1.2, 3.5, size=2) - 0.02)
    vertical = text_h * (0.3 * rng.beta(1.2, 3.5, size=2) - 0.025)
    return float(horizontal[0]), float(vertical[0]), float(horizontal[1]), float(vertical[1])


def sample_height(rng: np.random.Generator) -> int:
    """Crop height in pixels, 24..80, skewed small like real detector crops."""
    return int(round(24 + 56 * rng.beta(1.3, 2.6)))


def sample_large_height(rng: np.random.Generator) -> int:
    """Height of a large crop, 80..240 pixels (a close-up word that inference shrinks to the model's height)."""
    return int(round(80 + 160 * rng.beta(1.2, 2.0)))


def place(rng: np.random.Generator, box: Box, height: int, max_width: int = 1200) -> Placement:
    """Map the word's ink box into a crop ``height`` pixels tall (narrower than ``max_width``) with random margins."""
    x0, y0, x1, y1 = box
    src = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
    dst = _target_quad(rng, x1 - x0, y1 - y0)
    left, top, right, bottom = _margins(rng, y1 - y0)
    bx0, by0 = dst.min(axis=0) - (left, top)
    bx1, by1 = dst.max(axis=0) + (right, bottom)
    scale = height / max(by1 - by0, 1.0)
    width = int(round((bx1 - bx0) * scale))
    if width > max_width:
        scale *= max_width / width
        width, height = max_width, max(8, int(round((by1 - by0) * scale)))
    to_crop = np.array([[scale, 0, -bx0 * scale], [0, scale, -by0 * scale], [0, 0, 1]], dtype=np.float64)
    matrix = to_crop @ cv2.getPerspectiveTransform(src, dst.astype(np.float32)).astype(np.float64)
    return Placement(matrix, max(width, 8), height, float(scale))


def warp_layer(layer: np.ndarray, placement: Placement) -> np.ndarray:
    """Resample the uint8 coverage masks into the crop (zero outside), blurring first when shrinking a lot."""
    if placement.scale < 0.7:
        layer = cv2.GaussianBlur(layer, (0, 0), 0.45 / placement.scale)
    size = (placement.width, placement.height)
    return cv2.warpPerspective(
        layer, placement.matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
