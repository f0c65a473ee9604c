from pathlib import Path

from tests.benchmarks.conftest import Bench


def test_latency_at_fixed_rates_from_the_scheduled_times(bench: Bench, calib_model_dir: Path) -> None:
    data = bench("open_loop", calib_model_dir, "--seconds 1 --threads 1", result="open_loop_onnxruntime")
    assert data["capacity"] > 0
    rows = data["rows"]
    assert [r["fraction"] for r in rows] == [0.25, 0.5, 0.75, 0.9]
    assert all(r["errors"] == 0 and 0 < r["p50_ms"] <= r["p99_ms"] for r in rows)
    assert all(abs(r["sent"] - r["rate"]) <= 0.4 * r["rate"] + 5 for r in rows)  # Poisson arrivals at the rate, 1 s
