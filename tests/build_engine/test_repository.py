"""python -m build_engine: the python and onnxruntime repositories on disk, and the CLI's errors."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from build_engine.errors import BuildError
from build_engine.repository import MODEL_PY, write_repository
from build_engine.triton_config import ServingOptions, parse_pbtxt, spec_from_config
from rare.modelspec import ModelSpec

REPO = Path(__file__).resolve().parents[2]
HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def build_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "build_engine", *args], capture_output=True, text=True, timeout=120, cwd=REPO
    )


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_python_repository(calib_model_dir: Path, tmp_path: Path) -> None:
    result = write_repository(calib_model_dir, tmp_path, "python", ServingOptions(name="rec", max_batch_size=8))
    root = tmp_path / "rec"
    assert result.model_root == root
    assert tree(tmp_path) == ["rec/1/model.onnx", "rec/1/model.py", "rec/config.pbtxt", "rec/rare.json"]
    assert (root / "1" / "model.py").read_bytes() == MODEL_PY.read_bytes()
    assert (root / "1" / "model.onnx").read_bytes() == (calib_model_dir / "model.onnx").read_bytes()
    config = parse_pbtxt((root / "config.pbtxt").read_text(encoding="utf-8"))
    assert config.name == "rec" and config.backend == "python" and config.max_batch_size == 8
    assert spec_from_config(config) == ModelSpec.load(root)
    assert json.loads((root / "rare.json").read_text()) == json.loads((calib_model_dir / "rare.json").read_text())


def test_onnxruntime_repository_through_the_cli(calib_model_dir: Path, tmp_path: Path) -> None:
    result = build_cli(
        "--model-dir", str(calib_model_dir), "--target", "onnxruntime", "--repository", str(tmp_path), "--gpu"
    )
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path) == ["rare/1/model.onnx", "rare/config.pbtxt", "rare/rare.json"]
    config = parse_pbtxt((tmp_path / "rare" / "config.pbtxt").read_text(encoding="utf-8"))
    assert config.platform == "onnxruntime_onnx" and config.instance_group[0].kind == config.instance_group[0].KIND_GPU


def test_rebuild_replaces_the_model_folder(calib_model_dir: Path, tmp_path: Path) -> None:
    write_repository(calib_model_dir, tmp_path, "python", ServingOptions())
    (tmp_path / "rare" / "1" / "stale.txt").write_text("old")
    write_repository(calib_model_dir, tmp_path, "onnxruntime", ServingOptions())
    assert tree(tmp_path) == ["rare/1/model.onnx", "rare/config.pbtxt", "rare/rare.json"]


def test_refuses_to_replace_a_folder_that_is_not_a_model(calib_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "rare").mkdir()
    (tmp_path / "rare" / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match="not a Triton model folder"):
        write_repository(calib_model_dir, tmp_path, "python", ServingOptions())
    assert tree(tmp_path) == ["rare/notes.txt"]


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_tensorrt_without_tensorrt_fails_clearly_and_keeps_the_old_model(calib_model_dir: Path, tmp_path: Path) -> None:
    write_repository(calib_model_dir, tmp_path, "python", ServingOptions())
    before = tree(tmp_path)
    result = build_cli("--model-dir", str(calib_model_dir), "--target", "tensorrt", "--repository", str(tmp_path))
    assert result.returncode == 2
    assert (
        "TensorRT is not installed: build the engine inside nvcr.io/nvidia/tensorrt:<release>-py3 "
        "(same release as the Triton image)" in result.stderr
    )
    assert tree(tmp_path) == before


def test_model_dir_without_spec_is_an_error(tmp_path: Path) -> None:
    result = build_cli("--model-dir", str(tmp_path), "--target", "python", "--repository", str(tmp_path / "repo"))
    assert result.returncode == 2 and "rare.json: not found" in result.stderr
    assert not (tmp_path / "repo").exists()


def test_help_states_the_pairing_rule() -> None:
    result = build_cli("--help")
    assert result.returncode == 0
    assert "nvcr.io/nvidia/tensorrt:<release>-py3" in result.stdout and "same" in result.stdout
