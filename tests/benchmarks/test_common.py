from pathlib import Path

from benchmarks.common import latency_stats, load_crops, markdown_table
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
