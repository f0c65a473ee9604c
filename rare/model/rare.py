"""RARE = TPS rectification -> backbone -> BiLSTM -> attention decoder, composed from the config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rare.config import ConfigError
from rare.config_schema import ArchitectureConfig, BackboneConfig
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


@dataclass(frozen=True)
class Backbone:
    """One backbone choice: how to build it, the architecture name exports carry, and the state_dict prefix only its
    checkpoints have (what tells a PaddleOCR file of one config from the other)."""

    build: Callable[[BackboneConfig, int], nn.Module]
    architecture: str
    key_prefix: str


# The one table of backbones, by Architecture.Backbone.name: a new backbone is one entry here.
BACKBONES = {
    "MobileNetV3": Backbone(lambda cfg, c: MobileNetV3(c, cfg.scale), "rec_mv3_tps_bilstm_att", "backbone.blocks."),
    "ResNet": Backbone(lambda cfg, c: ResNetVd(c, cfg.layers), "rec_r34_vd_tps_bilstm_att", "backbone.conv1_1."),
}


def backbone_of(cfg: BackboneConfig) -> Backbone:
    if cfg.name not in BACKBONES:
        raise ConfigError(f"Architecture.Backbone.name {cfg.name!r}: choose from {sorted(BACKBONES)}")
    return BACKBONES[cfg.name]


def build_backbone(arch: ArchitectureConfig, in_channels: int) -> nn.Module:
    return backbone_of(arch.Backbone).build(arch.Backbone, in_channels)


def build_model(arch: ArchitectureConfig, num_classes: int) -> RARE:
    return RARE(arch, num_classes)
