"""Augmentation of real word crops (albumentations): the geometry and photometry a text detector's crops vary in.

Mild on purpose: labels must stay readable, and crops must still contain the whole word. The pipeline is built
lazily in each process and seeded from torch's per-worker seed, so DataLoader workers draw different streams.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import torch


def build_pipeline(seed: int) -> A.Compose:
    return A.Compose(
        [
            A.CropAndPad(
                percent=(-0.03, 0.08),
                keep_size=False,
                sample_independently=True,
                border_mode=cv2.BORDER_REPLICATE,
                p=0.5,
            ),
            A.OneOf(
                [
                    A.Affine(rotate=(-4, 4), shear=(-12, 12), scale=(0.95, 1.05), border_mode=cv2.BORDER_REPLICATE),
                    A.Perspective(scale=(0.02, 0.06), border_mode=cv2.BORDER_REPLICATE),
                ],
                p=0.5,
            ),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 5))], p=0.2),
            A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=0.5),
            A.OneOf([A.ToGray(), A.ChannelShuffle(), A.InvertImg()], p=0.15),
            A.GaussNoise(std_range=(0.02, 0.08), p=0.2),
            A.Downscale(scale_range=(0.4, 0.8), p=0.2),
            A.ImageCompression(quality_range=(30, 90), p=0.25),
        ],
        seed=seed,
    )


class Augmenter:
    """Callable BGR uint8 -> BGR uint8; the pipeline is created on first use in the calling process."""

    def __init__(self) -> None:
        self._pipeline: A.Compose | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self._pipeline is None:
            self._pipeline = build_pipeline(torch.initial_seed() % 2**32)
        return self._pipeline(image=image)["image"]

    def __getstate__(self) -> dict:
        return {"_pipeline": None}
