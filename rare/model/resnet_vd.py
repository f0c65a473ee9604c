"""ResNet34_vd for recognition (PaddleOCR ``rec_resnet_vd.py``): stride-1 deep stem, (2, 1) stage strides."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DEPTHS = {34: (3, 4, 6, 3)}
WIDTHS = (64, 128, 256, 512)


class ConvBN(nn.Module):
    """[avg-pool (vd shortcut)] -> conv (no bias) -> BatchNorm -> [ReLU]; names match PaddleOCR's keys."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: tuple[int, int] = (1, 1),
        relu: bool = False,
        vd_pool: bool = False,
    ) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(stride, stride, ceil_mode=True) if vd_pool else None
        conv_stride = (1, 1) if vd_pool else stride
        self._conv = nn.Conv2d(cin, cout, kernel, conv_stride, (kernel - 1) // 2, bias=False)
        self._batch_norm = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        x = self._batch_norm(self._conv(x))
        return F.relu(x) if self.relu else x


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: tuple[int, int], project: bool, first: bool) -> None:
        super().__init__()
        self.conv0 = ConvBN(cin, cout, 3, stride, relu=True)
        self.conv1 = ConvBN(cout, cout, 3)
        # the first block of every stage projects; from stage 2 on through avg-pool + 1x1 conv (the "vd" trick)
        self.short = ConvBN(cin, cout, 1, stride, vd_pool=not first and stride[0] != 1) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.short is None else self.short(x)
        return F.relu(shortcut + self.conv1(self.conv0(x)))


class ResNetVd(nn.Module):
    """[N, 3, 32, 100] -> [N, 512, 1, 25]."""

    def __init__(self, in_channels: int = 3, layers: int = 34) -> None:
        super().__init__()
        self.conv1_1 = ConvBN(in_channels, 32, 3, relu=True)
        self.conv1_2 = ConvBN(32, 32, 3, relu=True)
        self.conv1_3 = ConvBN(32, 64, 3, relu=True)
        self.stage_names: list[str] = []
        cin = 64
        for stage, depth in enumerate(DEPTHS[layers]):
            for i in range(depth):
                stride = (2, 1) if i == 0 and stage != 0 else (1, 1)
                name = f"bb_{stage}_{i}"
                self.add_module(name, BasicBlock(cin, WIDTHS[stage], stride, project=i == 0, first=stage == i == 0))
                self.stage_names.append(name)
                cin = WIDTHS[stage]
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1_3(self.conv1_2(self.conv1_1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return F.max_pool2d(x, 2, 2)
