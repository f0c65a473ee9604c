"""Augmentation of real word crops (albumentations): the geometry and photometry a text detector's crops vary in.

Two levels. ``mild`` keeps every crop close to the original. ``strong`` is for long runs on a small real set, where
the model otherwise learns the training crops by heart (the shipped model read 97 % of the IC15 training crops and
67 % of the held-out ones): larger rotations and shears, local grid warps, heavier blur, low resolution, noise and
tone changes, each crop drawing a different mix. Labels must stay readable and crops must still contain the whole
word at both levels. The pipeline is built lazily in each process and seeded from torch's per-worker seed, so
DataLoader workers draw different streams.
"""

from __future__ import annotations

from typing import Literal

import albumentations as A
import cv2
import numpy as np
import torch

Level = Literal["mild", "strong"]
_EDGE = cv2.BORDER_REPLICATE


def mild_pipeline(seed: int) -> A.Compose:
    return A.Compose(
        [
            A.CropAndPad(percent=(-0.03, 0.08), keep_size=False, sample_independently=True, border_mode=_EDGE, p=0.5),
            A.OneOf(
                [
                    A.Affine(rotate=(-4, 4), shear=(-12, 12), scale=(0.95, 1.05), border_mode=_EDGE),
                    A.Perspective(scale=(0.02, 0.06), border_mode=_EDGE),
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


def strong_pipeline(seed: int) -> A.Compose:
    return A.Compose(
        [
            A.CropAndPad(percent=(-0.02, 0.12), keep_size=False, sample_independently=True, border_mode=_EDGE, p=0.6),
            A.OneOf(
                [
                    A.Affine(rotate=(-8, 8), shear=(-20, 20), fit_output=True, border_mode=_EDGE),
                    A.Perspective(scale=(0.03, 0.1), fit_output=True, border_mode=_EDGE),
                    A.GridDistortion(num_steps=5, distort_limit=(-0.2, 0.2), border_mode=_EDGE),
                ],
                p=0.8,
            ),
            A.OneOf(
                [A.GaussianBlur(blur_limit=(3, 7)), A.MotionBlur(blur_limit=(3, 9)), A.Defocus(radius=(1, 3))],
                p=0.35,
            ),
            A.OneOf(
                [
                    A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
                    A.RandomGamma(gamma_limit=(60, 160)),
                    A.CLAHE(clip_limit=3.0),
                    A.Equalize(),
                    A.Posterize(num_bits=(3, 6)),
                    A.Sharpen(),
                ],
                p=0.7,
            ),
            A.OneOf([A.ToGray(), A.ChannelShuffle(), A.InvertImg()], p=0.2),
            A.GaussNoise(std_range=(0.02, 0.08), p=0.3),
            A.Downscale(scale_range=(0.4, 0.8), p=0.3),
            A.ImageCompression(quality_range=(20, 90), p=0.3),
        ],
        seed=seed,
    )


class Augmenter:
    """Callable BGR uint8 -> BGR uint8; the pipeline is created on first use in the calling process."""

    def __init__(self, level: Level = "mild") -> None:
        if level not in ("mild", "strong"):
            raise ValueError(f"augmentation level must be 'mild' or 'strong', got {level!r}")
        self.level = level
        self._pipeline: A.Compose | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self._pipeline is None:
            build = strong_pipeline if self.level == "strong" else mild_pipeline
            self._pipeline = build(torch.initial_seed() % 2**32)
        return self._pipeline(image=image)["image"]

    def __getstate__(self) -> dict:
        return {"level": self.level, "_pipeline": None}
