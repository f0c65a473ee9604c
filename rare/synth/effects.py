"""Camera and scene degradations of a composited crop: uneven lighting, colour shifts, blur, low resolution,
sensor noise and JPEG artefacts. Input float32 BGR [0, 255]; :func:`degrade` returns uint8.

Blur and resolution loss are scaled by the height of the text in the crop (not of the crop), so small or thin text
in a large crop is degraded as much as its size allows and no more.
"""

from __future__ import annotations

import cv2
import numpy as np

from rare.synth.background import smooth_noise


def _lighting(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Shading across the sign (multiplicative low-frequency field) and sometimes a specular highlight."""
    height, width = image.shape[:2]
    field = 1 + smooth_noise(rng, height, width, int(rng.integers(1, 4))) * rng.uniform(0.1, 0.35)
    image = image * field[:, :, None]
    if rng.random() < 0.3:
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        sigma = rng.uniform(0.3, 1.5) * height
        ys, xs = np.ogrid[0:height, 0:width]
        blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma * sigma)).astype(np.float32)
        image = image + blob[:, :, None] * rng.uniform(20, 90)
    return image


def _color_shift(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """White balance, desaturation (washed-out photos), contrast and brightness."""
    if rng.random() < 0.5:
        image = image * rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    if rng.random() < 0.4:
        gray = image @ np.array([0.114, 0.587, 0.299], np.float32)
        keep = rng.uniform(0.0, 0.8)
        image = image * keep + gray[:, :, None] * (1 - keep)
    if rng.random() < 0.5:
        mean = float(image.mean())
        image = (image - mean) * rng.uniform(0.7, 1.2) + mean + rng.uniform(-30, 30)
    return image


def _motion_kernel(rng: np.random.Generator, text_px: float) -> np.ndarray:
    length = int(rng.integers(3, max(4, int(text_px / 6) + 1)))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return kernel / max(float(kernel.sum()), 1e-6)


def _blur(rng: np.random.Generator, image: np.ndarray, text_px: float) -> np.ndarray:
    """Defocus (Gaussian, sigma up to ~6% of the text height) or camera shake (a short line kernel)."""
    if rng.random() < 0.75:
        sigma = max(0.3, text_px / 24 * rng.uniform(0.3, 1.4))
        return cv2.GaussianBlur(image, (0, 0), sigma)
    return cv2.filter2D(image, -1, _motion_kernel(rng, text_px), borderType=cv2.BORDER_REFLECT)


def _low_resolution(rng: np.random.Generator, image: np.ndarray, text_px: float) -> np.ndarray:
    """The word was only a few pixels tall in the photo: shrink until the text is 7-20 px tall, scale back up."""
    height, width = image.shape[:2]
    factor = rng.uniform(7, 20) / max(text_px, 1.0)
    if factor >= 0.9:
        return image
    small = cv2.resize(
        image, (max(4, round(width * factor)), max(4, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    interpolation = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST)[int(rng.choice(3, p=[0.6, 0.3, 0.1]))]
    return cv2.resize(small, (width, height), interpolation=interpolation)


def _noise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    sigma = rng.uniform(2, 12)
    if rng.random() < 0.7:
        return image + rng.standard_normal(image.shape[:2], dtype=np.float32)[:, :, None] * sigma
    return image + rng.standard_normal(image.shape, dtype=np.float32) * sigma


def _jpeg(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    quality = int(rng.integers(15, 85))
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image


def degrade(rng: np.random.Generator, image: np.ndarray, text_px: float) -> np.ndarray:
    """Apply a random subset of the degradations in a camera-like order; ``text_px``: the text's height in pixels."""
    if rng.random() < 0.45:
        image = _lighting(rng, image)
    if rng.random() < 0.7:
        image = _color_shift(rng, image)
    low_resolution = rng.random() < 0.35
    if low_resolution:
        image = _low_resolution(rng, image, text_px)
    if rng.random() < (0.3 if low_resolution else 0.55):  # both at once would often leave nothing legible
        image = _blur(rng, image, text_px)
    if rng.random() < 0.55:
        image = _noise(rng, image)
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        out = _jpeg(rng, out)
    return out
