"""MobileNetV3 for recognition (PaddleOCR ``rec_mobilenet_v3.py``): strides (2, 1) keep the width for the sequence."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# kernel, expansion, out, SE, activation, stride  (PaddleOCR's "large" table with large_stride [1, 2, 2, 2])
LARGE_BLOCKS = (
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", (2, 1)),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", (2, 1)),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 1),
    (3, 200, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 480, 112, True, "hardswish", 1),
    (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", (2, 1)),
    (5, 960, 160, True, "hardswish", 1),
    (5, 960, 160, True, "hardswish", 1),
)
LAST_CHANNELS = 960


def make_divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNAct(nn.Module):
    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int | tuple[int, int] = 1,
        groups: int = 1,
        act: str | None = None,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        if self.act == "relu":
            return F.relu(x)
        if self.act == "hardswish":
            return F.hardswish(x)
        return x


class SEModule(nn.Module):
    """Squeeze-excitation with PaddleOCR's gate: hardsigmoid of slope 0.2 (not PyTorch's 1/6)."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.conv2(F.relu(self.conv1(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.clamp(gate * 0.2 + 0.5, 0.0, 1.0)


class ResidualUnit(nn.Module):
    def __init__(
        self, cin: int, mid: int, cout: int, kernel: int, stride: int | tuple[int, int], use_se: bool, act: str
    ) -> None:
        super().__init__()
        self.shortcut = stride == 1 and cin == cout
        self.expand_conv = ConvBNAct(cin, mid, 1, act=act)
        self.bottleneck_conv = ConvBNAct(mid, mid, kernel, stride, groups=mid, act=act)
        self.mid_se = SEModule(mid) if use_se else None
        self.linear_conv = ConvBNAct(mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bottleneck_conv(self.expand_conv(x))
        if self.mid_se is not None:
            y = self.mid_se(y)
        y = self.linear_conv(y)
        return x + y if self.shortcut else y


class MobileNetV3(nn.Module):
    """MobileNetV3-large at ``scale``: [N, 3, 32, 100] -> [N, 480, 1, 25] at scale 0.5."""

    def __init__(self, in_channels: int = 3, scale: float = 0.5) -> None:
        super().__init__()
        cin = make_divisible(16 * scale)
        self.conv1 = ConvBNAct(in_channels, cin, 3, 2, act="hardswish")
        blocks = []
        for kernel, exp, out, se, act, stride in LARGE_BLOCKS:
            cout = make_divisible(scale * out)
            blocks.append(ResidualUnit(cin, make_divisible(scale * exp), cout, kernel, stride, se, act))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = make_divisible(scale * LAST_CHANNELS)
        self.conv2 = ConvBNAct(cin, self.out_channels, 1, act="hardswish")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(self.conv2(self.blocks(self.conv1(x))), 2, 2)
