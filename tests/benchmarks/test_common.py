from pathlib import Path

import numpy as np

from benchmarks.common import latency_stats, load_crops, markdown_table, one_view
from benchmarks.dev_model import make_model_dir
from rare.modelspec import ModelSpec


def test_crops_are_spread_over_every_folder() -> None:
    crops = load_crops(40)  # evenly spaced over IC15 (446), IIIT5K (200), SVT (25)
    assert len(crops) == 40
    assert {c.path.parent.parent.name for c in crops} == {"IC15", "IIIT5K", "SVT"}
    assert all(c.image.ndim == 3 and c.image.shape[2] == 3 for c in crops)


def test_latency_stats_and_table() -> None:
    stats = latency_stats([0.010, 0.020, 0.030, 0.040], items_per_call=8, wall=0.1)
    assert stats["items_per_s"] == 320
    assert stats["p50_ms"] == 25
    table = markdown_table(["a", "b"], [(1, 1234.5), ("x", float("nan"))])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 1,234 |", "| x | — |"]


def test_dev_model_from_a_project_checkpoint(calib_checkpoint: Path, tmp_path: Path) -> None:
    out = make_model_dir(tmp_path / "dev", checkpoint=calib_checkpoint, name="bench_dev")
    assert ModelSpec.load(out).model_name == "bench_dev"
    assert (out / "model.onnx").is_file()


def test_one_view_drops_the_nudges_and_keeps_the_rest_of_the_policy() -> None:
    from rare.codec import LabelCodec
    from rare.modelspec import ModelSpec, our_io
    from rare.orientation import Orientation

    images, outputs = our_io(LabelCodec().num_classes)
    policy = Orientation(min_aspect=1.5, nudges=[[0, -0.05], [0.05, 0]])
    spec = ModelSpec("m", "1", list(LabelCodec().characters), images, outputs, orientation=policy)
    single = one_view(spec)
    assert single.orientation == Orientation(min_aspect=1.5) and spec.orientation == policy
    assert single.preprocess_views([np.zeros((32, 100, 3), np.uint8)])[0].shape == (1, 3, 32, 100)
