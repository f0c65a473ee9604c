"""RARE = TPS rectification -> backbone -> BiLSTM -> attention decoder, composed from the config."""

from __future__ import annotations

import torch
from torch import nn

from rare.config_schema import ArchitectureConfig
from rare.model.head import AttentionHead
from rare.model.mobilenet_v3 import MobileNetV3
from rare.model.neck import SequenceEncoder
from rare.model.resnet_vd import ResNetVd
from rare.model.tps import TPS
from rare.preprocess import IMAGE_SHAPE


class RARE(nn.Module):
    def __init__(self, arch: ArchitectureConfig, num_classes: int) -> None:
        super().__init__()
        channels, height, width = IMAGE_SHAPE
        tps = arch.Transform
        self.transform = TPS(channels, tps.num_fiducial, tps.model_name, (height, width))
        self.backbone = build_backbone(arch, self.transform.out_channels)
        self.neck = SequenceEncoder(self.backbone.out_channels, arch.Neck.hidden_size)
        self.head = AttentionHead(self.neck.out_channels, num_classes, arch.Head.hidden_size)
        self.num_classes = num_classes

    def forward(self, images: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, 3, 32, 100] -> [N, 25, C]: logits in train mode, probabilities in eval mode."""
        return self.head(self.neck(self.backbone(self.transform(images))), targets)


class InferenceModel(nn.Module):
    """What gets exported: probabilities plus the compact per-step argmax ids (int32) and their probabilities."""

    def __init__(self, model: RARE) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        probs = self.model(images)
        scores, ids = probs.max(dim=2)
        return probs, ids.to(torch.int32), scores


def build_backbone(arch: ArchitectureConfig, in_channels: int) -> nn.Module:
    if arch.Backbone.name == "MobileNetV3":
        return MobileNetV3(in_channels, arch.Backbone.scale)
    if arch.Backbone.name == "ResNet":
        return ResNetVd(in_channels, arch.Backbone.layers)
    raise ValueError(f"unknown backbone {arch.Backbone.name!r}; choose from ['MobileNetV3', 'ResNet']")


def build_model(arch: ArchitectureConfig, num_classes: int) -> RARE:
    return RARE(arch, num_classes)
