"""Augmentation levels: both keep a real crop a readable word crop; strong changes it more; bad levels refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rare.config import codec_from_config, load_config
from rare.data.augment import Augmenter
from rare.data.build import build_train_dataset
from rare.images import read_image
from rare.labelfile import read_label_file
from tests.conftest import REPO, SHARED

IIIT5K = SHARED / "data" / "real_train" / "IIIT5K" / "gt.txt"


def _crops(count: int) -> list[np.ndarray]:
    return [read_image(entry.path) for entry in read_label_file(IIIT5K)[:count]]


@pytest.mark.parametrize("level", ["mild", "strong"])
def test_levels_give_whole_colour_crops(level: str) -> None:
    torch.manual_seed(0)
    augment = Augmenter(level)
    for crop in _crops(20):
        out = augment(crop)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert 0.5 < out.shape[1] / crop.shape[1] < 2.0  # the word is neither cut away nor lost in padding


def test_strong_changes_crops_more_than_mild() -> None:
    def change(level: str) -> float:
        torch.manual_seed(1)
        augment, total = Augmenter(level), 0.0
        for crop in _crops(30):
            out = augment(crop)
            resized = np.asarray(
                torch.nn.functional.interpolate(torch.from_numpy(out).permute(2, 0, 1)[None].float(), crop.shape[:2])
            )[0].transpose(1, 2, 0)
            total += float(np.abs(resized - crop.astype(np.float32)).mean())
        return total

    assert change("strong") > 1.2 * change("mild")


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="mild"):
        Augmenter("wild")  # type: ignore[arg-type]


def test_config_chooses_the_level_per_source() -> None:
    overrides = ["Train.dataset.sources.1.augment=strong", f"Train.dataset.sources.1.label_file_list=[{IIIT5K}]"]
    cfg = load_config(REPO / "configs" / "experiments" / "data_mix.yml", overrides)
    dataset = build_train_dataset(cfg.Train.dataset, codec_from_config(cfg), seed=0)
    assert [a.level if a else None for a in dataset.augmenters] == [None, "strong"]
    cfg = load_config(REPO / "configs" / "rare_mv3_en_stage5.yml")  # `augment: true` still means mild
    assert {a.level for a in build_train_dataset(cfg.Train.dataset, codec_from_config(cfg), 0).augmenters if a} == {
        "mild"
    }
