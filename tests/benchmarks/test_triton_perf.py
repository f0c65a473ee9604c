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
    assert data["chosen_delay_us"] == 0  # the only delay, and its p99 is far within the bound
    assert data["targets"][0]["name"] == "dynamic batching gain, Triton (max_queue_delay 0 us, the chosen one)"


def test_the_chosen_delay_is_the_fastest_within_the_p99_bound() -> None:
    from benchmarks.triton_perf import chosen_delay
    from benchmarks.triton_util import PerfPoint

    def point(concurrency: int, rate: float, p99: float) -> PerfPoint:
        return PerfPoint(batch=1, concurrency=concurrency, infer_per_s=rate, p50_ms=p99 / 2, p95_ms=p99, p99_ms=p99)

    batching = {  # 10 ms wins the gain ratio by slowing concurrency 1, but is slower where it matters
        0: [point(1, 200, 5), point(32, 506, 110)],
        2000: [point(1, 140, 8), point(32, 561, 108)],
        10000: [point(1, 62, 18), point(32, 328, 112)],
    }
    assert chosen_delay(batching, 32, 150) == 2000
    assert chosen_delay(batching, 32, 109) == 2000 and chosen_delay(batching, 32, 100) is None
