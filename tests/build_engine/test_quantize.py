"""python -m build_engine quantize: an INT8 model directory of the shipped model, written only past the gate."""

import re
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from build_engine.sensitivity import layer_of
from rare.gates.report import GateReport
from rare.images import read_image
from rare.labelfile import read_label_file
from rare.metrics import RecMetric
from rare.onnx_runtime import OnnxRecognizer
from tests.conftest import REAL_TRAIN, REPO, val_crops

SHIPPED = REPO / "models" / "rare_mv3_en"


def write_gt(root: Path, folder: str, pairs: list[tuple[Path, str]]) -> None:
    (root / folder).mkdir(parents=True)
    (root / folder / "gt.txt").write_text("".join(f"{p}\t{label}\n" for p, label in pairs), encoding="utf-8")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(calibration dir: 32 real_train crops, validation dir: 24 real_val crops in two folders)."""
    root = tmp_path_factory.mktemp("quant_data")
    train = [e for folder in ("IIIT5K", "IC15") for e in read_label_file(REAL_TRAIN / folder / "gt.txt")[:16]]
    write_gt(root / "calib", "mixed", [(e.path, e.label) for e in train])
    for folder in ("IIIT5K", "IC15"):
        write_gt(root / "val", folder, val_crops(folder, 12))
    return root / "calib", root / "val"


def quantize_cli(out: Path, data: tuple[Path, Path], *extra: str) -> subprocess.CompletedProcess:
    calib, val = data
    return subprocess.run(
        [sys.executable, "-m", "build_engine", "quantize", "--model-dir", str(SHIPPED), "--out", str(out)]
        + ["--calib-dir", str(calib), "--calib-crops", "32", "--val-dir", str(val), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_writes_an_int8_directory_the_gateway_can_serve(data: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "rare_mv3_en_int8"
    out.mkdir()
    (out / "stale").write_text("a previous build is replaced as a whole")
    result = quantize_cli(out, data, "--method", "static", "--max-drop", "10")
    assert result.returncode == 0, result.stderr
    assert "INT8 (ONNX Runtime CPU)" in result.stdout and f"wrote {out}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "rare.json"]
    ops = {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "GridSample"} <= ops  # quantized, TPS sampling kept in FP32
    int8, fp32 = OnnxRecognizer(out, threads=1), OnnxRecognizer(SHIPPED, threads=1)  # rare.json checked vs graph
    assert int8.spec.model_version.endswith("-int8") and int8.spec.characters == fp32.spec.characters
    images = [read_image(p) for p, _ in val_crops("IIIT5K", 12)]
    same = sum(a.text == b.text for a, b in zip(int8.recognize(images), fp32.recognize(images), strict=True))
    assert same >= 10  # INT8 reads (nearly) what FP32 reads


def test_dynamic_quantizes_the_recurrent_and_dense_layers_without_calibration(
    data: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "dynamic"
    result = quantize_cli(out, data)  # the default method; --calib-dir is not read
    assert result.returncode == 0, result.stderr
    ops = {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "Conv" in ops and "QuantizeLinear" not in ops
    assert "dynamic" in OnnxRecognizer(out, threads=1).spec.source


def test_the_least_tolerant_layers_can_stay_fp32(data: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "keep2"
    result = quantize_cli(out, data, "--method", "static", "--keep-fp32-layers", "2", "--max-drop", "10")
    assert result.returncode == 0, result.stderr
    source = OnnxRecognizer(out, threads=1).spec.source
    kept = re.findall(r"; (\S+) kept FP32 \(", source)  # named in rare.json, least tolerant first
    assert len(kept) == 2, source
    graph = onnx.load(str(out / "model.onnx")).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    weighted = [n for n in graph.node if n.op_type in ("Conv", "Gemm")]  # input 1: the weights
    assert any(n.input[1] in dequantized for n in weighted)  # the rest computes in INT8
    kept_nodes = [n for n in weighted if layer_of(n.name) in kept]
    assert kept_nodes and all(n.input[1] not in dequantized for n in kept_nodes)  # kept layers: FP32 weights


def test_keeping_layers_needs_the_static_method(data: tuple[Path, Path], tmp_path: Path) -> None:
    result = quantize_cli(tmp_path / "out", data, "--keep-fp32-layers", "2")  # dynamic: nothing to sweep
    assert result.returncode == 2 and "only with --method static" in result.stderr
    assert not (tmp_path / "out").exists()


def test_nothing_is_written_when_int8_loses_too_much(data: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "kept"
    out.mkdir()
    (out / "marker").write_text("previous build")
    result = quantize_cli(out, data, "--max-drop", "-101")  # an impossible gate: INT8 must gain 101 points
    assert result.returncode == 1
    assert "FAIL: INT8 word accuracy drop" in result.stdout and f"nothing written to {out}" in result.stdout
    assert [p.name for p in out.iterdir()] == ["marker"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kept.")]  # no staging left behind


def test_a_missing_model_directory_is_a_clear_error(data: tuple[Path, Path], tmp_path: Path) -> None:
    calib, val = data
    result = subprocess.run(
        [sys.executable, "-m", "build_engine", "quantize", "--model-dir", str(tmp_path / "nope")]
        + ["--out", str(tmp_path / "out"), "--calib-dir", str(calib), "--val-dir", str(val)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 2 and "build_engine quantize: error:" in result.stderr and "nope" in result.stderr
    assert not (tmp_path / "out").exists()


def test_out_inside_the_model_directory_is_refused(data: tuple[Path, Path]) -> None:
    result = quantize_cli(SHIPPED / "int8", data)
    assert result.returncode == 2 and "must lie outside --model-dir" in result.stderr
    assert not (SHIPPED / "int8").exists()


def test_the_gate_allows_exactly_the_limit() -> None:
    def metric(correct: int) -> RecMetric:
        return RecMetric(count=1000, correct=correct, distance_sum=0.0)

    assert GateReport("INT8", 0.5, {"a": metric(900)}, {"a": metric(895)}).passed  # 0.5 point
    assert not GateReport("INT8", 0.5, {"a": metric(900)}, {"a": metric(894)}).passed
