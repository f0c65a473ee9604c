"""The one preprocessing of RARE, shared by training, prediction and serving (numpy + OpenCV, no torch).

Equal to PaddleOCR's ``resize_norm_img`` for RARE: BGR, resize to height 32 keeping the aspect ratio with width
``min(ceil(32 * w / h), 100)`` (OpenCV bilinear), scale to [-1, 1] as ``(x / 255 - 0.5) / 0.5``, right-pad with 0.

``resize="area"`` (a field of ``rare.json``) shrinks crops taller than the model input with OpenCV's area
interpolation instead: bilinear samples only the 2x2 pixels nearest each output pixel, so a large crop shrunk to
32 px aliases (thin strokes vanish or break). Crops at or below the input height are resized bilinearly either way.
Models imported from PaddleOCR keep ``"bilinear"``, and with it their parity with PaddleOCR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from rare.errors import RareError

IMAGE_SHAPE = (3, 32, 100)
RESIZES = ("bilinear", "area")

# (x / 255 - 0.5) / 0.5 in float32, exactly as PaddleOCR computes it, looked up instead of recomputed ([1, 256]:
# the shape cv2.LUT wants, one table for every channel).
_NORMALIZE_LUT = (((np.arange(256, dtype=np.float32) / 255) - 0.5) / 0.5).reshape(1, 256)


class ImageError(RareError, ValueError):
    """An array that cannot be a word crop (wrong rank, channels, dtype or size)."""


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Bring any supported crop to uint8 BGR [H, W, 3].

    Grayscale ([H, W] or [H, W, 1]) is replicated; BGRA is composited onto white (a transparent background reads as
    paper, not as black ink); uint16 is scaled to 8 bits; bool is taken as black/white.
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageError(f"expected [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"image is empty: shape {image.shape}")
    image = _to_uint8(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return _composite_on_white(image)
    return np.ascontiguousarray(image)


def _composite_on_white(bgra: np.ndarray, rows: int = 256) -> np.ndarray:
    """BGRA -> BGR over white, ``rows`` at a time: the float32 temporaries of a 25-megapixel crop stay a few MB."""
    out = np.empty((*bgra.shape[:2], 3), dtype=np.uint8)
    for top in range(0, bgra.shape[0], rows):
        band = bgra[top : top + rows]
        alpha = band[:, :, 3:4].astype(np.float32) / 255
        blended = band[:, :, :3].astype(np.float32) * alpha + 255 * (1 - alpha)
        out[top : top + rows] = np.clip(np.rint(blended), 0, 255)
    return out


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    raise ImageError(f"unsupported pixel type {image.dtype}; expected uint8, uint16 or bool")


def resized_width(height: int, width: int, shape: Sequence[int] = IMAGE_SHAPE) -> int:
    """PaddleOCR's width rule: ``min(ceil(H_out * w / h), W_out)``, at least 1 pixel."""
    _, out_h, out_w = shape
    ratio = width / float(height)
    return max(1, min(out_w, int(math.ceil(out_h * ratio))))


def check_resize(resize: str) -> str:
    if resize not in RESIZES:
        raise ImageError(f"unknown resize {resize!r}; choose from {list(RESIZES)}")
    return resize


def preprocess(image: np.ndarray, shape: Sequence[int] = IMAGE_SHAPE, resize: str = "bilinear") -> np.ndarray:
    """One crop (any supported array, BGR order) -> float32 [3, 32, 100] in [-1, 1], right-padded with 0."""
    out = np.zeros(tuple(shape), dtype=np.float32)
    _fill(out, image, shape, check_resize(resize))
    return out


def preprocess_batch(
    images: Sequence[np.ndarray], shape: Sequence[int] = IMAGE_SHAPE, resize: str = "bilinear"
) -> np.ndarray:
    """Several crops -> float32 [N, 3, 32, 100]; each row equals :func:`preprocess` of that crop."""
    check_resize(resize)
    out = np.zeros((len(images), *shape), dtype=np.float32)
    for row, image in zip(out, images, strict=True):
        _fill(row, image, shape, resize)
    return out


def _fill(out: np.ndarray, image: np.ndarray, shape: Sequence[int], resize: str) -> None:
    bgr = to_bgr8(image)
    _, out_h, _ = shape
    width = resized_width(bgr.shape[0], bgr.shape[1], shape)
    shrink = resize == "area" and bgr.shape[0] > out_h
    resized = cv2.resize(bgr, (width, out_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    # [H, W, 3] uint8 -> [H, W, 3] float32 through the lookup table (cv2.LUT: 2x numpy's fancy indexing) ->
    # [3, H, W], written into the left of the padded row
    out[:, :, :width] = cv2.LUT(resized, _NORMALIZE_LUT).transpose(2, 0, 1)
