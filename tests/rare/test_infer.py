"""rare infer and the ONNX Runtime recognizer, on our export and on PaddleOCR's own ONNX file."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rare.modelspec import ModelSpec, ModelSpecError, TensorSpec
from rare.onnx_runtime import OnnxRecognizer
from tests.conftest import FIXTURES, REAL_VAL


def paddle_model_dir(tmp: Path, with_spec: bool) -> Path:
    folder = tmp / ("paddle_spec" if with_spec else "paddle_bare")
    folder.mkdir()
    (folder / "model.onnx").symlink_to(FIXTURES / "rare_mv3_calib_paddle.onnx")
    if with_spec:
        ModelSpec(
            model_name="paddle_calib",
            model_version="1",
            characters=list("0123456789abcdefghijklmnopqrstuvwxyz"),
            input=TensorSpec("x", "float32", [-1, 3, 32, 100]),
            outputs={"probs": TensorSpec("fetch_name_0", "float32", [-1, 25, 38])},
        ).save(folder)
    return folder


def test_paddleocr_onnx_decodes_like_our_export(calib_model_dir: Path, tmp_path: Path) -> None:
    ours = OnnxRecognizer(calib_model_dir)
    theirs = OnnxRecognizer(paddle_model_dir(tmp_path, with_spec=True))
    assert theirs.roles == ("probs",) and ours.roles == ("ids", "scores")
    inputs = np.load(FIXTURES / "inputs.npy")
    ids_a, scores_a = ours.infer(inputs)
    ids_b, scores_b = theirs.infer(inputs)
    assert (ids_a == ids_b).all() and np.abs(scores_a - scores_b).max() < 2e-3
    texts_a = [r.text for r in ours.codec.decode_ids(ids_a, scores_a)]
    texts_b = [r.text for r in theirs.codec.decode_ids(ids_b, scores_b)]
    assert texts_a == texts_b


def run_infer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rare", "infer", *args], capture_output=True, text=True, timeout=120)


def test_infer_cli_prints_paddle_style_lines(calib_model_dir: Path, tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    images.mkdir()
    for name in ("a.png", "b.jpg"):
        shutil.copy(next((REAL_VAL / "SVT" / "images").iterdir()), images / name)
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = run_infer("--image_dir", str(images), "--rec_model_dir", str(calib_model_dir))
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("Predicts of ") and ": ('" in line for line in lines)
    assert "broken.png" in result.stderr and result.returncode == 1
    same_dir_bare = run_infer(
        "--image_dir", str(images / "a.png"), "--rec_model_dir", str(paddle_model_dir(tmp_path, with_spec=False))
    )
    ours = run_infer("--image_dir", str(images / "a.png"), "--rec_model_dir", str(calib_model_dir))
    assert same_dir_bare.returncode == 0 and same_dir_bare.stdout.split("(")[1][:8] == ours.stdout.split("(")[1][:8]


def test_infer_rejects_other_image_shapes(calib_model_dir: Path) -> None:
    result = run_infer(
        "--image_dir",
        str(REAL_VAL / "SVT" / "images"),
        "--rec_model_dir",
        str(calib_model_dir),
        "--rec_image_shape",
        "3,48,320",
    )
    assert result.returncode == 2 and "built for 3,32,100 only" in result.stderr


def test_dictionary_override_that_does_not_fit_is_named(calib_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "dict.txt"
    path.write_text("\n".join("0123456789abcdefghijklmnopqrstuvwxyz") + "\n")
    result = run_infer(
        "--image_dir",
        str(REAL_VAL / "SVT" / "images"),
        "--rec_model_dir",
        str(calib_model_dir),
        "--rec_char_dict_path",
        str(path),
        "--use_space_char",
    )
    assert result.returncode == 2 and "has 38 classes but the dictionary gives 39" in result.stderr


def test_spec_mismatch_messages() -> None:
    spec = ModelSpec(
        model_name="m",
        model_version="1",
        characters=list("ab"),
        input=TensorSpec("images", "float32", [-1, 3, 32, 100]),
        outputs={"ids": TensorSpec("ids", "int32", [-1, 25]), "scores": TensorSpec("scores", "float32", [-1, 25])},
    )
    with pytest.raises(ModelSpecError) as err:
        spec.check_io(
            [TensorSpec("x", "float32", [-1, 3, 32, 100])],
            [TensorSpec("ids", "int64", [-1, 25]), TensorSpec("scores", "float32", [-1, 26])],
        )
    message = str(err.value)
    assert "input 'images' not in the graph (it has ['x'])" in message
    assert "output 'ids' (ids): dtype int64, expected int32" in message
    assert "output 'scores' (scores): shape [-1, 26], expected [-1, 25]" in message
    with pytest.raises(ModelSpecError, match="need 'probs' or both"):
        ModelSpec(
            model_name="m", model_version="1", characters=["a"], input=spec.input, outputs={"ids": spec.outputs["ids"]}
        )
    with pytest.raises(ModelSpecError, match=r"image_shape \[3, 48, 160\] but input 'images' takes \[3, 32, 100\]"):
        ModelSpec(
            model_name="m",
            model_version="1",
            characters=["a"],
            input=spec.input,
            outputs=spec.outputs,
            image_shape=[3, 48, 160],
        )


def test_malformed_rare_json(tmp_path: Path) -> None:
    (tmp_path / "rare.json").write_text("{not json")
    with pytest.raises(ModelSpecError, match="not valid JSON"):
        ModelSpec.load(tmp_path)
    (tmp_path / "rare.json").write_text('{"model_name": "x"}')
    with pytest.raises(ModelSpecError, match="malformed"):
        ModelSpec.load(tmp_path)
    with pytest.raises(ModelSpecError, match="not found"):
        ModelSpec.load(tmp_path / "missing")
