"""LMDB round trip, label files, mixing by weight, and skip-and-count of bad samples."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rare.codec import LabelCodec
from rare.config import ConfigError
from rare.config_schema import DatasetConfig
from rare.data.build import build_eval_datasets, build_train_dataset, check_transforms
from rare.data.datasets import LabelFileSource, LmdbSource, RecDataset, Skipped, collate
from rare.data.lmdb_io import LmdbError, LmdbReader, find_lmdbs, write_lmdb
from rare.orientation import Orientation
from tests.conftest import REAL_VAL


def encoded(text_color: int = 0) -> bytes:
    image = np.full((32, 80, 3), 255 - text_color, np.uint8)
    cv2.putText(image, "ab", (5, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (text_color,) * 3, 2)
    return cv2.imencode(".png", image)[1].tobytes()


def test_lmdb_round_trip_in_the_release_layout(tmp_path: Path) -> None:
    samples = [(encoded(), "Hello"), (encoded(40), "wörld"), (b"garbage", "x")]
    assert write_lmdb(tmp_path / "db", samples) == 3
    reader = LmdbReader(tmp_path / "db")
    assert len(reader) == 3 and reader[1] == (samples[1][0], "wörld")
    reader.close()
    import lmdb

    with lmdb.open(str(tmp_path / "db"), readonly=True, lock=False) as env, env.begin() as txn:
        assert txn.get(b"num-samples") == b"3" and txn.get(b"label-000000001") == b"Hello"
    assert find_lmdbs(tmp_path) == [tmp_path / "db"]
    with pytest.raises(LmdbError, match="not an LMDB"):
        LmdbReader(tmp_path)


def test_bad_samples_are_skipped_and_counted(tmp_path: Path) -> None:
    write_lmdb(tmp_path / "db", [(encoded(), "ab"), (b"garbage", "ab"), (encoded(), "!!!"), (encoded(), "a" * 30)])
    dataset = RecDataset([LmdbSource(tmp_path / "db")], LabelCodec())
    items = [dataset[i] for i in range(len(dataset))]
    assert isinstance(items[0], dict) and items[0]["image"].shape == (3, 32, 100) and items[0]["length"] == 2
    assert items[1:] == [Skipped("unreadable"), Skipped("bad_label"), Skipped("bad_label")]
    batch = collate(items)
    assert batch.image.shape == (1, 3, 32, 100) and batch.skipped == {"unreadable": 1, "bad_label": 2}
    assert collate(items[1:]).image.shape == (0, 3, 32, 100)


def test_label_file_source_reads_real_val() -> None:
    source = LabelFileSource(REAL_VAL / "SVT" / "gt.txt")
    image, label = source.load(0, 0)
    assert source.name == "SVT" and len(source) == 25 and image.ndim == 3 and label == "LULA"
    half = LabelFileSource(REAL_VAL / "IIIT5K" / "gt.txt", ratio=0.5, seed=1)
    assert len(half) == 100


def test_mixed_dataset_draws_sources_by_weight(tmp_path: Path) -> None:
    write_lmdb(tmp_path / "a", [(encoded(), "aa")] * 10)
    write_lmdb(tmp_path / "b", [(encoded(), "bb")] * 10)
    cfg = DatasetConfig(
        name="MultiDataSet",
        num_samples=2000,
        sources=[
            DatasetConfig(name="LMDBDataSet", data_dir=str(tmp_path / "a"), weight=3.0),
            DatasetConfig(name="LMDBDataSet", data_dir=str(tmp_path / "b"), weight=1.0),
        ],
    )
    dataset = build_train_dataset(cfg, LabelCodec(), seed=0)
    picks = [dataset.locate(i)[0] for i in range(len(dataset))]
    assert len(dataset) == 2000 and 0.70 < picks.count(0) / 2000 < 0.80
    dataset.set_epoch(1)
    assert [dataset.locate(i) for i in range(50)] != [(picks[i], None) for i in range(50)]
    assert dataset.locate(7) == dataset.locate(7)  # deterministic within an epoch


def test_weight_of_an_entry_is_spread_by_file_size(tmp_path: Path) -> None:
    write_lmdb(tmp_path / "x" / "small", [(encoded(), "aa")] * 10)
    write_lmdb(tmp_path / "x" / "large", [(encoded(), "bb")] * 30)
    write_lmdb(tmp_path / "y", [(encoded(), "cc")] * 5)
    cfg = DatasetConfig(
        name="MultiDataSet",
        num_samples=100,
        sources=[
            DatasetConfig(name="LMDBDataSet", data_dir=str(tmp_path / "x"), weight=0.5),
            DatasetConfig(name="LMDBDataSet", data_dir=str(tmp_path / "y"), weight=0.5),
        ],
    )
    dataset = build_train_dataset(cfg, LabelCodec(), seed=0)
    assert [len(s) for s in dataset.sources] == [30, 10, 5]
    assert dataset.weights.tolist() == pytest.approx([0.375, 0.125, 0.5])


def test_eval_datasets_one_row_per_label_file() -> None:
    cfg = DatasetConfig(name="SimpleDataSet", label_file_list=[str(REAL_VAL / n / "gt.txt") for n in ("SVT", "IC15")])
    sets = build_eval_datasets(cfg, LabelCodec())
    assert list(sets) == ["SVT", "IC15"] and len(sets["IC15"]) == 446


def test_eval_samples_carry_their_nudged_and_turned_views(tmp_path: Path) -> None:
    """With the model's orientation policy on, rare eval reads tall crops turned too, and with nudges every crop
    nudged (rare.orientation)."""
    wide = np.full((32, 80, 3), 255, np.uint8)
    tall = np.ascontiguousarray(np.rot90(wide))  # [80, 32]
    for name, image in (("wide.png", wide), ("tall.png", tall)):
        cv2.imwrite(str(tmp_path / name), image)
    (tmp_path / "gt.txt").write_text("tall.png\tab\nwide.png\tab\ntall.png\tab\n")
    cfg = DatasetConfig(name="SimpleDataSet", label_file_list=[str(tmp_path / "gt.txt")])
    (on,) = build_eval_datasets(cfg, LabelCodec(), orientation=Orientation(1.5)).values()
    batch = collate([on[i] for i in range(3)])
    assert batch.image.shape == (3, 3, 32, 100) and batch.view_owner == [0, 0, 2, 2]
    assert batch.views.shape == (4, 3, 32, 100)
    assert batch.views[0].equal(batch.image[1])  # the tall crop turned clockwise is the wide one again
    (off,) = build_eval_datasets(cfg, LabelCodec()).values()
    plain = collate([off[i] for i in range(3)])
    assert plain.views is None and plain.view_owner == []
    (nudged,) = build_eval_datasets(cfg, LabelCodec(), orientation=Orientation(1.5, nudges=[[0.05, 0]])).values()
    batch = collate([nudged[i] for i in range(3)])  # each crop nudged once, then the tall ones turned
    assert batch.view_owner == [0, 0, 0, 1, 2, 2, 2] and batch.views.shape == (7, 3, 32, 100)


def test_paddleocr_transform_chain_is_checked() -> None:
    chain = [
        {"DecodeImage": {"img_mode": "BGR"}},
        {"AttnLabelEncode": None},
        {"RecResizeImg": {"image_shape": [3, 32, 100]}},
        {"KeepKeys": {"keep_keys": ["image"]}},
    ]
    check_transforms(DatasetConfig(transforms=chain))
    with pytest.raises(ConfigError, match="must be \\[3, 32, 100\\]"):
        check_transforms(
            DatasetConfig(transforms=[*chain[:2], {"RecResizeImg": {"image_shape": [3, 48, 320]}}, chain[3]])
        )
    with pytest.raises(ConfigError, match="RARE uses exactly"):
        check_transforms(DatasetConfig(transforms=chain[:2]))
