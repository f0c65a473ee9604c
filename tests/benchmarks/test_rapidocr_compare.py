from pathlib import Path

from tests.benchmarks.conftest import Bench


def test_both_recognizers_on_the_same_crops(bench: Bench, calib_model_dir: Path) -> None:
    data = bench("rapidocr_compare", calib_model_dir, "--crops 4 --batch-sizes 1,2 --seconds 0.05 --threads 1")
    points = {(row["engine"], row["batch"]) for row in data["rows"]}
    assert points == {("RARE", 1), ("RARE", 2), ("RapidOCR", 1), ("RapidOCR", 2)}
    assert "rec" in data["rapidocr_model"]  # the recognition model shipped in the wheel: no download
    # RapidOCR reads real words; the calibration model reads nothing
    rapid = next(row for row in data["rows"] if row["engine"] == "RapidOCR")
    assert rapid["accuracy"] > 0
