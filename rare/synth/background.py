"""Procedural backgrounds for word crops: flat or gradient fills, blotches, stripes, sign edges and clutter; or
natural-looking textures (stone and foliage from fractal noise, wood grain, brick and tile courses).

No real photos are pasted (real crops contain text of their own). Everything is float32 BGR in [0, 255].
"""

from __future__ import annotations

import cv2
import numpy as np

from rare.synth.colors import BGR, Palette


def _fill(height: int, width: int, color: BGR) -> np.ndarray:
    return np.broadcast_to(np.asarray(color, dtype=np.float32), (height, width, 3)).copy()


def _ramp(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A [H, W, 1] linear ramp 0..1 in a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    cos, sin = float(np.cos(angle)), float(np.sin(angle))  # Python floats keep the arrays float32
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None] * (height / max(height, width))
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :] * (width / max(height, width))
    ramp = cos * xs + sin * ys
    lo, hi = float(ramp.min()), float(ramp.max())
    return ((ramp - lo) / max(hi - lo, 1e-6))[:, :, None]


def _gradient(rng: np.random.Generator, height: int, width: int, a: BGR, b: BGR) -> np.ndarray:
    ramp = _ramp(rng, height, width)
    ca, cb = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return ca + (cb - ca) * ramp


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """[H, W] low-frequency noise in about [-1, 1]: a coarse random grid upsampled bicubically."""
    gh = max(2, int(round(cells * height / max(height, width))) + 1)
    gw = max(2, int(round(cells * width / max(height, width))) + 1)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def _blotches(rng: np.random.Generator, image: np.ndarray, second: BGR) -> None:
    """Stains, dirt, reflections: mix toward a second colour by low-frequency noise (in place)."""
    height, width = image.shape[:2]
    noise = smooth_noise(rng, height, width, int(rng.integers(2, 9)))
    weight = np.clip(noise * rng.uniform(0.15, 0.6) + rng.uniform(-0.2, 0.2), 0, 1)[:, :, None]
    image += (np.asarray(second, np.float32) - image) * weight


def _stripes(rng: np.random.Generator, image: np.ndarray) -> None:
    """Wood grain, brick courses, blinds: a faint periodic pattern (in place)."""
    height, width = image.shape[:2]
    ramp = _ramp(rng, height, width)[:, :, 0] * max(height, width)
    period = rng.uniform(3, max(4.0, height * 0.7))
    wave = np.sin(ramp * (2 * np.pi / period) + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:
        wave = np.sign(wave)
    image += (wave * rng.uniform(4, 25)).astype(np.float32)[:, :, None]


def _edge(rng: np.random.Generator, image: np.ndarray, other: BGR) -> None:
    """The crop runs past the sign: a straight boundary near one side, beyond it another colour (in place)."""
    height, width = image.shape[:2]
    side = int(rng.integers(4))
    depth = rng.uniform(0.02, 0.2)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    tilt = rng.uniform(-0.08, 0.08)
    if side < 2:
        coord = ys / height + tilt * xs / max(height, 1)
        outside = coord < depth if side == 0 else coord > 1 - depth
    else:
        coord = xs / width + tilt * ys / max(width, 1)
        outside = coord < depth * 0.5 if side == 2 else coord > 1 - depth * 0.5
    image[outside] = np.asarray(other, np.float32)


def _clutter(rng: np.random.Generator, image: np.ndarray, color: BGR) -> None:
    """A few faint lines and boxes (frames, poles, other objects) (in place)."""
    height, width = image.shape[:2]
    layer = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        p1 = (int(rng.integers(-width, 2 * width)), int(rng.integers(-height, 2 * height)))
        p2 = (int(rng.integers(-width, 2 * width)), int(rng.integers(-height, 2 * height)))
        thickness = int(rng.integers(1, max(2, height // 6)))
        if rng.random() < 0.5:
            cv2.line(layer, p1, p2, 1.0, thickness, cv2.LINE_AA)
        else:
            cv2.rectangle(layer, p1, p2, 1.0, thickness, cv2.LINE_AA)
    weight = layer[:, :, None] * rng.uniform(0.2, 0.8)
    image += (np.asarray(color, np.float32) - image) * weight


def fractal_noise(rng: np.random.Generator, height: int, width: int, cells: int, octaves: int = 5) -> np.ndarray:
    """[H, W] noise with detail at every scale (stone, concrete, bark, foliage), normalized to [0, 1]: octaves of
    ``smooth_noise``, each twice as fine and ``persistence`` times as strong as the last."""
    persistence = rng.uniform(0.45, 0.75)
    total = np.zeros((height, width), np.float32)
    for octave in range(octaves):
        total += smooth_noise(rng, height, width, cells * 2**octave) * np.float32(persistence**octave)
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / max(hi - lo, 1e-6)


def _wood(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """[H, W] in [0, 1]: grain lines along a random direction, bent by fractal noise."""
    along = _ramp(rng, height, width)[:, :, 0] * max(height, width)
    bend = fractal_noise(rng, height, width, int(rng.integers(2, 5)), octaves=3) * rng.uniform(4, 20)
    period = rng.uniform(3, max(4.0, height * 0.4))
    return (np.sin((along + bend) * (2 * np.pi / period)) * 0.5 + 0.5).astype(np.float32)


def _courses(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """[H, W] in [0, 1]: bricks or tiles, each a shade of its own, with dark mortar joints between them."""
    brick_h = rng.uniform(0.25, 1.2) * height
    brick_w = brick_h * rng.uniform(1.0, 3.0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    row = np.floor(ys / brick_h)
    xs = xs + (row % 2) * brick_w * rng.uniform(0.0, 0.5)  # running bond, or stacked
    col = np.floor(xs / brick_w)
    shade = np.sin(row * 12.9898 + col * 78.233 + rng.uniform(0, 100)) * 0.5 + 0.5  # one value per brick
    joint = max(1.0, brick_h * rng.uniform(0.05, 0.12))
    mortar = (ys % brick_h < joint) | (xs % brick_w < joint)
    grain = fractal_noise(rng, height, width, int(rng.integers(4, 10)), octaves=3)
    return np.where(mortar, 0.0, 0.35 + 0.45 * shade + 0.2 * grain).astype(np.float32)


def natural_texture(rng: np.random.Generator, height: int, width: int, palette: Palette) -> np.ndarray:
    """A [H, W, 3] float32 texture between the palette's two background colours, at a contrast that keeps the
    text (drawn against ``palette.background``) readable."""
    kind = int(rng.integers(3))
    if kind == 0:
        pattern = fractal_noise(rng, height, width, int(rng.integers(2, 8)))
    elif kind == 1:
        pattern = _wood(rng, height, width)
    else:
        pattern = _courses(rng, height, width)
    weight = (pattern * np.float32(rng.uniform(0.3, 0.8)))[:, :, None]
    base, second = np.asarray(palette.background, np.float32), np.asarray(palette.background2, np.float32)
    return base + (second - base) * weight


def render_background(
    rng: np.random.Generator, height: int, width: int, palette: Palette, natural: bool = False
) -> np.ndarray:
    """A [H, W, 3] float32 background in the palette's colours; ``natural``: a natural texture underneath."""
    if natural:
        image = natural_texture(rng, height, width, palette)
    elif rng.random() < 0.55:
        image = _fill(height, width, palette.background)
    else:
        image = _gradient(rng, height, width, palette.background, palette.background2)
    if rng.random() < 0.5:
        _blotches(rng, image, palette.background2)
    if rng.random() < 0.12:
        _stripes(rng, image)
    if rng.random() < 0.15:
        _clutter(rng, image, palette.other)
    if rng.random() < 0.2:
        _edge(rng, image, palette.other)
    return image
