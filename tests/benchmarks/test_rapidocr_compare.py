from pathlib import Path

from tests.benchmarks.conftest import Bench


def test_both_recognizers_on_the_same_crops(bench: Bench, calib_model_dir: Path, tmp_path: Path) -> None:
    flags = f"--crops 4 --batch-sizes 1,2 --seconds 0.05 --threads 1 --extra-model again={calib_model_dir}"
    data = bench("rapidocr_compare", calib_model_dir, flags)
    points = {(row["engine"], row["batch"]) for row in data["rows"]}
    engines = ("RARE", "RARE again", "RapidOCR")  # the calibration model has no gated engine
    assert points == {(engine, batch) for engine in engines for batch in (1, 2)}
    assert (tmp_path / "rapidocr_compare_frontier.png").is_file()  # accuracy against crops/s per core
    assert "rec" in data["rapidocr_model"]  # the recognition model shipped in the wheel: no download
    # RapidOCR reads real words; the calibration model reads nothing
    rapid = next(row for row in data["rows"] if row["engine"] == "RapidOCR")
    assert rapid["accuracy"] > 0
