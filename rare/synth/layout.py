"""The text masks: the word drawn with a font (optionally letter-spaced, curved, emboldened), with optional outline
and shadow, plus a cut-off neighbouring line above or below as real detector crops often show.

Coverage only (uint8, one channel per paint layer), so the warp into the crop is one cheap 3-channel uint8 resample;
colours are applied in crop space by :meth:`rare.synth.render.WordRenderer.render`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rare.synth.fonts import load_font

Box = tuple[float, float, float, float]


FILL, OUTLINE, SHADOW = 0, 1, 2  # channels of TextMasks.masks


@dataclass(frozen=True)
class TextMasks:
    """uint8 [H, W, 3] coverage of fill, outline and shadow, which of the last two are used, and the word's ink box."""

    masks: np.ndarray
    box: Box
    has_outline: bool
    has_shadow: bool


def _advances(font: ImageFont.FreeTypeFont, text: str, tracking: float) -> list[float]:
    """x positions of each character when drawn one by one with extra spacing ``tracking`` (pixels)."""
    xs, x = [], 0.0
    for char in text:
        xs.append(x)
        x += font.getlength(char) + tracking
    return xs


def draw_text(
    draw: ImageDraw.ImageDraw, origin: tuple[float, float], text: str, font: ImageFont.FreeTypeFont, tracking: float
) -> None:
    """Draw at ``origin`` (the anchor of PIL's default 'la'), whole or letter by letter when tracking is set."""
    if tracking == 0.0:
        draw.text(origin, text, font=font, fill=255)
        return
    for char, dx in zip(text, _advances(font, text, tracking), strict=True):
        draw.text((origin[0] + dx, origin[1]), char, font=font, fill=255)


def text_extent(font: ImageFont.FreeTypeFont, text: str, tracking: float) -> Box:
    """Ink box of ``text`` drawn at origin (0, 0) with the given tracking."""
    if tracking == 0.0:
        x0, y0, x1, y1 = font.getbbox(text)
        return (float(x0), float(y0), float(x1), float(y1))
    boxes = [
        (dx + b[0], b[1], dx + b[2], b[3])
        for char, dx in zip(text, _advances(font, text, tracking), strict=True)
        if (b := font.getbbox(char))[2] > b[0]
    ]
    if not boxes:
        return (0.0, 0.0, 1.0, 1.0)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _text_masks(
    rng: np.random.Generator,
    text: str,
    font: ImageFont.FreeTypeFont,
    tracking: float,
    neighbour: str | None,
    room: float,
) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 masks of the word and of a neighbouring line above or below it (same canvas, ``room`` x height padding)."""
    x0, y0, x1, y1 = text_extent(font, text, tracking)
    height = y1 - y0
    pad = int(height * room + font.size * 0.2) + 3  # room for outline, emboldening and shadow too
    size = (int(x1 - x0) + 2 * pad, int(height) + 2 * pad)
    origin = (pad - x0, pad - y0)
    image = Image.new("L", size, 0)
    draw_text(ImageDraw.Draw(image), origin, text, font, tracking)
    if neighbour is None:
        return np.asarray(image, dtype=np.uint8), None
    other = Image.new("L", size, 0)
    gap = height * rng.uniform(0.15, 0.5)
    n_y0, n_y1 = font.getbbox(neighbour)[1::2]
    dy = (y0 - gap - n_y1) if rng.random() < 0.5 else (y1 + gap - n_y0)
    dx = rng.uniform(-0.5, 0.5) * (x1 - x0)
    ImageDraw.Draw(other).text((origin[0] + dx, origin[1] + dy), neighbour, font=font, fill=255)
    return np.asarray(image, dtype=np.uint8), np.asarray(other, dtype=np.uint8)


def _curve_maps(rng: np.random.Generator, shape: tuple[int, int], text_h: float) -> tuple[np.ndarray, np.ndarray]:
    """remap() maps bending the baseline into an arc or a wave by shifting each column vertically."""
    height, width = shape
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)
    if rng.random() < 0.7:
        shift = rng.uniform(-0.6, 0.6) * text_h * (4 * xs * xs)
    else:
        shift = rng.uniform(0.05, 0.2) * text_h * np.sin(xs * rng.uniform(3, 9) + rng.uniform(0, 6.3))
    map_x = np.broadcast_to(np.arange(width, dtype=np.float32)[None, :], (height, width))
    map_y = np.arange(height, dtype=np.float32)[:, None] - shift.astype(np.float32)[None, :]
    return np.ascontiguousarray(map_x), np.ascontiguousarray(map_y)


def ink_box(mask: np.ndarray, threshold: int = 64) -> Box:
    """Bounding box (x0, y0, x1, y1) of the uint8 mask's pixels above ``threshold`` (whole mask if none)."""
    ink = mask > threshold
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return (0.0, 0.0, float(mask.shape[1]), float(mask.shape[0]))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def _shadow(rng: np.random.Generator, mask: np.ndarray, size: int) -> np.ndarray:
    """A drop shadow, soft shadow or 3-D extrusion of ``mask``."""
    dx, dy = rng.uniform(-1, 1) * size * 0.08, rng.uniform(0.2, 1) * size * 0.08
    steps = int(rng.integers(2, 6)) if rng.random() < 0.4 else 1
    shadow = np.zeros_like(mask)
    for step in range(1, steps + 1):
        shift = np.float32([[1, 0, dx * step / steps], [0, 1, dy * step / steps]])
        moved = cv2.warpAffine(mask, shift, (mask.shape[1], mask.shape[0]))
        np.maximum(shadow, moved, out=shadow)
    if steps == 1 and rng.random() < 0.5:
        shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.5, size * rng.uniform(0.02, 0.08)))
    return shadow


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel)


def _shape(
    rng: np.random.Generator, word: np.ndarray, other: np.ndarray | None, size: int, curved: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Bend the baseline (if ``curved``) and sometimes embolden the strokes, of the word and its neighbour alike."""
    if curved:
        _, y0, _, y1 = ink_box(word)
        map_x, map_y = _curve_maps(rng, word.shape, y1 - y0)
        word = cv2.remap(word, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
        if other is not None:
            other = cv2.remap(other, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < 0.1:
        radius = max(1, int(round(size * rng.uniform(0.015, 0.045))))
        word = _dilate(word, radius)
        other = _dilate(other, radius) if other is not None else None
    return word, other


def make_text_masks(rng: np.random.Generator, text: str, font_path: str, size: int, neighbour: str | None) -> TextMasks:
    """Draw ``text`` (maybe letter-spaced, curved, emboldened, outlined, shadowed); see :class:`TextMasks`."""
    font = load_font(font_path, size)
    tracking = float(size * rng.uniform(0.08, 0.7)) if rng.random() < 0.05 and len(text) > 1 else 0.0
    curved = rng.random() < 0.12
    room = 0.7 if curved or neighbour is not None else 0.15  # padding, in word heights, around the word
    word, other = _text_masks(rng, text, font, tracking, neighbour, room)
    word, other = _shape(rng, word, other, size, curved)
    box = ink_box(word)
    fill = word if other is None else np.maximum(word, other)
    masks = np.zeros((*fill.shape, 3), np.uint8)
    masks[:, :, FILL] = fill
    has_outline = rng.random() < 0.12
    if has_outline:
        radius = max(1, int(round(size * rng.uniform(0.03, 0.1))))
        masks[:, :, OUTLINE] = _dilate(fill, radius)
        box = (box[0] - radius, box[1] - radius, box[2] + radius, box[3] + radius)
    has_shadow = rng.random() < 0.15
    if has_shadow:
        masks[:, :, SHADOW] = _shadow(rng, masks[:, :, OUTLINE] if has_outline else fill, size)
    return TextMasks(masks, box, has_outline, has_shadow)
