from pathlib import Path

from tests.benchmarks.conftest import Bench


def test_a_lexicon_reads_at_least_as_well_as_the_free_reading(bench: Bench, calib_model_dir: Path) -> None:
    data = bench("lexicon", calib_model_dir, "--sizes 5 50")
    for folder, row in data["rows"].items():
        assert row["5"] >= row["50"] >= row["free"] - 0.02, folder  # fewer candidates, fewer wrong neighbours
    assert all(ms > 0 for ms in data["ms_per_crop"].values())
