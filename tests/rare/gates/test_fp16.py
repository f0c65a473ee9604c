"""The FP16 gate (python -m build_engine verify): tables for FP32 and FP16, agreement, the 0.1-point limit."""

import subprocess
import sys
from pathlib import Path

import pytest

from build_engine.fp16 import convert_to_fp16
from rare.gates.fp16 import Agreement, Fp16Report, compare_fp16
from rare.metrics import RecMetric
from tests.conftest import val_crops

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def small_val(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two gt.txt folders of 6 real crops each (absolute image paths)."""
    root = tmp_path_factory.mktemp("val")
    for folder in ("IIIT5K", "SVT"):
        (root / folder).mkdir()
        lines = [f"{path}\t{label}" for path, label in val_crops(folder, 6)]
        (root / folder / "gt.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_verify_reports_both_precisions_per_folder(calib_model_dir: Path, small_val: Path, tmp_path: Path) -> None:
    convert_to_fp16(calib_model_dir / "model.onnx", tmp_path / "fp16.onnx")
    report = compare_fp16(calib_model_dir, tmp_path / "fp16.onnx", small_val)
    assert list(report.reference) == list(report.candidate) == list(report.agreement) == ["IIIT5K", "SVT"]
    assert all(m.count == 6 for m in (*report.reference.values(), *report.candidate.values()))
    agreement = report.agreement["IIIT5K"]
    assert agreement.words == 6 and agreement.steps == 6 * 25 and 0 <= agreement.max_prob_diff < 1
    text = report.render()
    assert text.count("| **overall** |") == 3 and "step argmax agreement" in text


def test_gate_fails_when_fp16_loses_more_than_a_tenth_of_a_point() -> None:
    def metric(correct: int) -> RecMetric:
        return RecMetric(count=1000, correct=correct, distance_sum=0.0)

    ok = Fp16Report("FP16", 0.1, {"a": metric(900)}, {"a": metric(899)}, agreement={"a": Agreement()})
    bad = Fp16Report("FP16", 0.1, {"a": metric(900)}, {"a": metric(898)}, agreement={"a": Agreement()})
    assert ok.passed and abs(ok.drop_points - 0.1) < 1e-9
    assert not bad.passed and "FAIL" in bad.render()


def test_verify_cli_exit_code_and_tables(calib_model_dir: Path, small_val: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "build_engine", "verify", "--model-dir", str(calib_model_dir)]
        + ["--val-dir", str(small_val), "--fp16-out", str(tmp_path / "m16.onnx")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr  # the calibration model reads nothing in either precision
    assert (tmp_path / "m16.onnx").is_file()
    assert "FP32 (ONNX Runtime CPU)" in result.stdout and "| SVT | 6 |" in result.stdout
    assert "OK: FP16 word accuracy drop" in result.stdout
