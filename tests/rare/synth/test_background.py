"""Natural-texture backgrounds: detail at every scale, kept between the palette's two background colours."""

from __future__ import annotations

import cv2
import numpy as np

from rare.synth.background import fractal_noise, natural_texture, render_background, smooth_noise
from rare.synth.colors import sample_palette


def detail(image: np.ndarray) -> float:
    """Mean absolute Laplacian: how much fine structure an image has."""
    return float(np.mean(np.abs(cv2.Laplacian(image.astype(np.float32), cv2.CV_32F))))


def test_fractal_noise_spans_zero_to_one_with_finer_detail_than_smooth_noise() -> None:
    rng = np.random.default_rng(0)
    noise = fractal_noise(rng, 48, 160, cells=4)
    assert noise.shape == (48, 160) and noise.dtype == np.float32
    assert float(noise.min()) == 0.0 and abs(float(noise.max()) - 1.0) < 1e-6
    smooth = smooth_noise(np.random.default_rng(0), 48, 160, cells=4)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    assert detail(noise) > 2 * detail(smooth)


def test_natural_textures_stay_between_the_two_background_colours() -> None:
    for seed in range(30):
        rng = np.random.default_rng(seed)
        palette = sample_palette(rng)
        texture = natural_texture(rng, 40, 120, palette)
        assert texture.shape == (40, 120, 3) and texture.dtype == np.float32
        low = np.minimum(palette.background, palette.background2).astype(np.float32) - 1e-3
        high = np.maximum(palette.background, palette.background2).astype(np.float32) + 1e-3
        assert np.all(texture >= low) and np.all(texture <= high)


def test_natural_backgrounds_carry_more_texture_than_plain_ones() -> None:
    textured, plain = [], []
    for seed in range(40):
        palette = sample_palette(np.random.default_rng(seed))
        if np.abs(np.subtract(palette.background, palette.background2)).sum() < 60:
            continue  # two near-equal colours: no visible texture either way
        textured.append(detail(render_background(np.random.default_rng(seed), 40, 120, palette, natural=True)))
        plain.append(detail(render_background(np.random.default_rng(seed), 40, 120, palette)))
    assert len(textured) >= 10 and np.median(textured) > 2 * np.median(plain)
