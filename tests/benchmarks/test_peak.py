from pathlib import Path

from tests.benchmarks.conftest import Bench


def test_flops_peak_and_the_fraction_each_engine_reaches(bench: Bench, calib_model_dir: Path) -> None:
    data = bench("peak", calib_model_dir, "--seconds 0.2")
    assert 10 < data["mflop_per_crop"] < 100  # MobileNetV3 x0.5 at 32x100, a 2-layer BiLSTM and 25 GRU steps
    assert data["gemm_peak_gflops"] > 1 and data["rates"]["onnxruntime"] > 0
