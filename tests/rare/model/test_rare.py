"""The backbone table: every configurable backbone has an entry, and every entry builds a model that runs."""

from __future__ import annotations

import typing

import pytest
import torch

from rare.config import ConfigError
from rare.config_schema import ArchitectureConfig, BackboneConfig
from rare.model.rare import BACKBONES, backbone_of, build_model


def test_the_config_offers_exactly_the_table() -> None:
    assert set(typing.get_args(typing.get_type_hints(BackboneConfig)["name"])) == set(BACKBONES)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_each_backbone_builds_and_reads_a_batch(name: str) -> None:
    arch = ArchitectureConfig(Backbone=BackboneConfig(name=name))
    model = build_model(arch, 38).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 100)).shape == (2, 25, 38)
    assert backbone_of(arch.Backbone).architecture.startswith("rec_")


def test_an_unknown_backbone_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'VGG': choose from \['MobileNetV3', 'ResNet'\]"):
        backbone_of(BackboneConfig(name="VGG"))  # type: ignore[arg-type]
