"""TPS rectification (RARE, Shi et al. 2016), as PaddleOCR's ``ppocr/modeling/transforms/tps.py`` defines it.

The grid generator's algebra (C, delta_C^-1, P_hat) depends only on the number of fiducials and the image size,
so it is solved once in float64 with numpy and stored as one float32 constant ``M = P_hat @ inv(delta_C)``
[H*W, F+3]. At run time the grid is a single batched matmul ``M @ [C'; E]``: no float64, no matrix inverse in the
graph, which is what keeps the exported model ONNX- and TensorRT-friendly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LOC_NET_WIDTHS = {"large": ((64, 128, 256, 512), 256), "small": ((16, 32, 64, 128), 64)}


class ConvBNReLU(nn.Module):
    """3x3 conv (no bias) -> BatchNorm -> ReLU; sub-module names follow PaddleOCR's checkpoints."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class LocalizationNetwork(nn.Module):
    """Regresses the F fiducial points C' (x, y in [-1, 1]) from the input image."""

    def __init__(self, in_channels: int, num_fiducial: int, model_name: str) -> None:
        super().__init__()
        widths, fc_dim = LOC_NET_WIDTHS[model_name]
        self.num_fiducial = num_fiducial
        for i, width in enumerate(widths):
            self.add_module(f"loc_conv{i}", ConvBNReLU(in_channels, width))
            in_channels = width
        self.fc1 = nn.Linear(in_channels, fc_dim)
        self.fc2 = nn.Linear(fc_dim, 2 * num_fiducial)
        self._init_regressor(in_channels)

    def _init_regressor(self, last_channels: int) -> None:
        bound = 1.0 / math.sqrt(last_channels)
        nn.init.uniform_(self.fc1.weight, -bound, bound)
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.from_numpy(initial_fiducials(self.num_fiducial)).flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(3):
            x = F.max_pool2d(getattr(self, f"loc_conv{i}")(x), 2, 2)
        x = self.loc_conv3(x).mean(dim=(2, 3))  # [N, C, h, w] -> [N, C] (global average pool)
        x = self.fc2(F.relu(self.fc1(x)))
        return x.view(-1, self.num_fiducial, 2)  # [N, 2F] -> [N, F, 2]


class GridGenerator(nn.Module):
    """Maps C' [N, F, 2] to the sampling grid [N, H, W, 2] through the precomputed constant ``M``."""

    def __init__(self, num_fiducial: int, image_hw: tuple[int, int]) -> None:
        super().__init__()
        self.num_fiducial = num_fiducial
        self.image_hw = image_hw
        # PaddleOCR's frozen "ex_fc" (2F -> 6): its output fills the 3 extra rows of [C'; E]. Zero in trained
        # models, but it is a checkpoint parameter and non-zero weights change the grid, so it is honoured.
        self.fc = nn.Linear(2 * num_fiducial, 6)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        self.fc.requires_grad_(False)
        self.register_buffer("grid_matrix", torch.from_numpy(grid_matrix(num_fiducial, *image_hw)), persistent=False)

    def forward(self, c_prime: torch.Tensor) -> torch.Tensor:
        n = c_prime.shape[0]
        extra = self.fc(c_prime.reshape(n, 2 * self.num_fiducial)).reshape(n, 3, 2).detach()  # [N, 6] -> [N, 3, 2]
        points = torch.cat([c_prime, extra], dim=1)  # [N, F+3, 2]
        grid = torch.matmul(self.grid_matrix, points)  # [H*W, F+3] @ [N, F+3, 2] -> [N, H*W, 2]
        return grid.reshape(n, self.image_hw[0], self.image_hw[1], 2)  # [N, H*W, 2] -> [N, H, W, 2]


class TPS(nn.Module):
    """Localization network + grid generator + bilinear sampler (zeros padding, align_corners=True)."""

    def __init__(self, in_channels: int, num_fiducial: int, model_name: str, image_hw: tuple[int, int]) -> None:
        super().__init__()
        self.loc_net = LocalizationNetwork(in_channels, num_fiducial, model_name)
        self.grid_generator = GridGenerator(num_fiducial, image_hw)
        self.out_channels = in_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grid = self.grid_generator(self.loc_net(images))
        # grid_sample in float32 even under autocast: sampling positions are too sensitive for half precision.
        with torch.autocast(device_type=images.device.type, enabled=False):
            return F.grid_sample(
                images.float(), grid.float(), mode="bilinear", padding_mode="zeros", align_corners=True
            )


def initial_fiducials(num_fiducial: int) -> np.ndarray:
    """RARE's initial C' (PaddleOCR/clovaai): a sheared band, not the identity. Float32 [F, 2]."""
    half = num_fiducial // 2
    x = np.linspace(-1.0, 1.0, half)
    top = np.stack([x, np.linspace(0.0, -1.0, half)], axis=1)
    bottom = np.stack([x, np.linspace(1.0, 0.0, half)], axis=1)
    return np.concatenate([top, bottom]).astype(np.float32)


def target_fiducials(num_fiducial: int) -> np.ndarray:
    """C [F, 2] (float64): F/2 points along y=-1 then F/2 along y=+1, x evenly from -1 to 1."""
    half = num_fiducial // 2
    x = np.linspace(-1.0, 1.0, half)
    return np.concatenate([np.stack([x, -np.ones(half)], 1), np.stack([x, np.ones(half)], 1)])


def grid_matrix(num_fiducial: int, height: int, width: int) -> np.ndarray:
    """``P_hat @ inv(delta_C)`` [H*W, F+3], solved in float64 and returned as float32."""
    c = target_fiducials(num_fiducial)
    f = num_fiducial
    r = np.linalg.norm(c[:, None, :] - c[None, :, :], axis=2)
    np.fill_diagonal(r, 1.0)
    delta_c = np.zeros((f + 3, f + 3))
    delta_c[:f, 0] = 1.0
    delta_c[:f, 1:3] = c
    delta_c[:f, 3:] = r**2 * np.log(r)
    delta_c[f, 3:] = c[:, 0]
    delta_c[f + 1, 3:] = c[:, 1]
    delta_c[f + 2, 3:] = 1.0
    # output pixel centres, row-major with y outer: P [H*W, 2]
    xs = (2 * np.arange(width) + 1.0) / width - 1.0
    ys = (2 * np.arange(height) + 1.0) / height - 1.0
    p = np.stack(np.meshgrid(xs, ys), axis=2).reshape(-1, 2)
    d = np.linalg.norm(p[:, None, :] - c[None, :, :], axis=2)
    p_hat = np.concatenate([np.ones((len(p), 1)), p, d**2 * np.log(d + 1e-6)], axis=1)
    return (p_hat @ np.linalg.inv(delta_c)).astype(np.float32)
