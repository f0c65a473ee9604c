from pathlib import Path

from tests.benchmarks.conftest import Bench


def test_coverage_threshold_and_calibration_of_both_scores(bench: Bench, calib_model_dir: Path) -> None:
    data = bench("calibration", calib_model_dir, "")
    assert set(data["by_score"]) == {"confidence", "product of char_confidences"}
    for result in data["by_score"].values():
        coverage = [row["coverage"] for row in result["coverage"]]
        assert coverage[0] == 1.0 and coverage == sorted(coverage, reverse=True)  # a higher bar keeps fewer
        assert 0 <= result["ece"] <= 1 and sum(b["crops"] for b in result["reliability"]) == 671
    assert data["threshold_95"] == data["by_score"]["confidence"]["threshold_95"]
