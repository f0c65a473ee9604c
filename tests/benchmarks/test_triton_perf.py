from pathlib import Path

import pytest

from tests.benchmarks.conftest import Bench


@pytest.mark.integration
def test_perf_analyzer_against_a_local_triton(bench: Bench, calib_model_dir: Path) -> None:
    flags = "--seconds 0.1 --threads 1 --batch-sizes 2 --delays-us 0 --concurrency 1,2"
    data = bench("triton_perf", calib_model_dir, flags)
    assert [(p["batch"], p["concurrency"]) for p in data["batch_sweep"]] == [(2, 1)]
    assert [p["concurrency"] for p in data["batching"]["0"]] == [1, 2]
    assert all(p["infer_per_s"] > 0 for p in [*data["batch_sweep"], *data["batching"]["0"]])
    assert data["targets"][0]["name"] == "dynamic batching gain, Triton (max_queue_delay 0 us)"
