from pathlib import Path

import pytest

from tests.benchmarks.conftest import Bench


def cells(data: dict) -> set[tuple[int, int]]:
    return {(row["crops"], row["concurrency"]) for row in data["rows"]}


@pytest.mark.integration
def test_embedded_backend_sweep_with_memory(bench: Bench, calib_model_dir: Path) -> None:
    flags = "--seconds 1 --threads 1 --concurrency 1,2 --crops 1,2 --client httpx"
    data = bench("gateway_load", calib_model_dir, flags, result="gateway_load_onnxruntime")
    assert cells(data) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    for row in data["rows"]:
        assert row["requests"] > 0 and row["errors"] == 0
        assert row["bare_crops_per_s"] > 0 and row["ratio"] > 0
        assert row["peak_rss_mib"] >= 50  # VmRSS of the gateway process, sampled from /proc
        # CPU per crop from /proc: the machine's covers the gateway process's (which runs inference here)
        slack = 2 * 10 / (row["crops_per_s"] * row["seconds"])  # two 10 ms clock ticks, per crop served
        assert 0 < row["gateway_cpu_ms_per_crop"] <= row["cpu_ms_per_crop"] * 1.05 + slack
        assert 0 < row["loop_cpu_ms_per_crop"] <= row["gateway_cpu_ms_per_crop"] + slack  # its event loop thread
        assert row["bare_cpu_ms_per_crop"] > 0
    assert data["baseline_rss_mib"] > 0


@pytest.mark.integration
def test_triton_backend_through_wrk(bench: Bench, calib_model_dir: Path) -> None:
    flags = "--backend triton --seconds 1 --threads 1 --concurrency 1,2 --crops 2"
    data = bench("gateway_load", calib_model_dir, flags, result="gateway_load_triton")
    assert data["client"] == "wrk"
    assert cells(data) == {(2, 1), (2, 2)}
    assert all(row["requests"] > 0 and row["errors"] == 0 and row["bare_crops_per_s"] > 0 for row in data["rows"])
    assert all(row["gateway_cpu_ms_per_crop"] > 0 and row["bare_cpu_ms_per_crop"] > 0 for row in data["rows"])
