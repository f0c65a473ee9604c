from pathlib import Path

from tests.benchmarks.conftest import Bench


def test_time_per_operator_type(bench: Bench, calib_model_dir: Path) -> None:
    data = bench("ort_profile", calib_model_dir, "--runs 2")
    ops = {row["op"]: row for row in data["rows"]}
    assert {"Conv", "LSTM", "GridSample"} <= set(ops)  # the backbone, the BiLSTM and the TPS sampler all show
    assert abs(sum(row["share"] for row in data["rows"]) - 1) < 1e-6
    assert data["rows"][0]["share"] >= data["rows"][-1]["share"]
    assert ops["Conv"]["nodes"] > 20 and ops["Conv"]["ms_per_run"] > 0
