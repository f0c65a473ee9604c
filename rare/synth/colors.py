"""Colour schemes of synthetic crops: sign, natural surface and paper palettes with controlled contrast."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BGR = tuple[float, float, float]


@dataclass(frozen=True)
class Palette:
    """Colours (BGR 0..255): background, second background (texture), text fill, outline, shadow, and ``other``
    for whatever lies beside the sign (edges, clutter), which always contrasts with the text."""

    background: BGR
    background2: BGR
    text: BGR
    outline: BGR
    shadow: BGR
    other: BGR


def hsv_to_bgr(hue: float, sat: float, val: float) -> BGR:
    """HSV in [0, 1] -> BGR in [0, 255]."""
    h6 = (hue % 1.0) * 6.0
    sector = int(h6)
    frac = h6 - sector
    p, q, t = val * (1 - sat), val * (1 - sat * frac), val * (1 - sat * (1 - frac))
    r, g, b = ((val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q))[sector % 6]
    return (b * 255.0, g * 255.0, r * 255.0)


def luminance(color: BGR) -> float:
    b, g, r = color
    return 0.114 * b + 0.587 * g + 0.299 * r


def _sign_color(rng: np.random.Generator) -> BGR:
    """Saturated sign colours (red, blue, green, yellow...) or a dark/light neutral."""
    if rng.random() < 0.6:
        return hsv_to_bgr(rng.random(), rng.uniform(0.45, 1.0), rng.uniform(0.3, 1.0))
    return hsv_to_bgr(rng.random(), rng.uniform(0.0, 0.2), rng.choice([rng.uniform(0.05, 0.3), rng.uniform(0.7, 1.0)]))


def _surface_color(rng: np.random.Generator) -> BGR:
    """Walls, glass, wood, stone: muted, often greyish or brownish."""
    hue = rng.uniform(0.04, 0.15) if rng.random() < 0.5 else rng.random()
    return hsv_to_bgr(hue, rng.uniform(0.0, 0.45), rng.uniform(0.15, 0.9))


def _paper_color(rng: np.random.Generator) -> BGR:
    return hsv_to_bgr(rng.uniform(0.05, 0.2), rng.uniform(0.0, 0.15), rng.uniform(0.75, 1.0))


def _text_color(rng: np.random.Generator, background: BGR, min_contrast: float) -> BGR:
    """A text colour whose luminance differs from the background's by at least ``min_contrast`` when possible."""
    bg_lum = luminance(background)
    best, best_diff = background, -1.0
    for _ in range(12):
        kind = rng.random()
        if kind < 0.35:
            color = hsv_to_bgr(0.0, 0.0, rng.uniform(0.9, 1.0) if bg_lum < 128 else rng.uniform(0.0, 0.15))
        elif kind < 0.75:
            color = hsv_to_bgr(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.2, 1.0))
        else:
            color = hsv_to_bgr(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.0, 1.0))
        diff = abs(luminance(color) - bg_lum)
        if diff >= min_contrast:
            return color
        if diff > best_diff:
            best, best_diff = color, diff
    return best


def _bgr(values: np.ndarray) -> BGR:
    b, g, r = (float(v) for v in np.clip(values, 0, 255))
    return (b, g, r)


def _shift(rng: np.random.Generator, color: BGR, amount: float) -> BGR:
    """The same colour, a little lighter/darker and tinted (for textures and gradients)."""
    scale = rng.uniform(1 - amount, 1 + amount)
    return _bgr(np.asarray(color) * scale + rng.uniform(-amount * 60, amount * 60, size=3))


def sample_palette(rng: np.random.Generator) -> Palette:
    """Background from a sign / surface / paper scheme, text with (mostly high, sometimes low) contrast."""
    scheme = rng.random()
    if scheme < 0.5:
        background = _sign_color(rng)
    elif scheme < 0.8:
        background = _surface_color(rng)
    else:
        background = _paper_color(rng)
    min_contrast = rng.uniform(70, 160) if rng.random() < 0.88 else rng.uniform(35, 70)
    text = _text_color(rng, background, min_contrast)
    second = _shift(rng, background, 0.35) if rng.random() < 0.7 else _surface_color(rng)
    outline = _text_color(rng, text, 90.0)
    darkness = rng.uniform(0.0, 0.3)
    shadow = _bgr(np.asarray(background) * darkness) if rng.random() < 0.7 else _shift(rng, text, 0.5)
    other = _text_color(rng, text, 80.0)
    return Palette(background, second, text, outline, shadow, other)
