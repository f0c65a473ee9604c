"""rare export: PaddleOCR parity through ONNX Runtime, PyTorch parity, batch invariance, and a clean graph."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from rare.config import load_config
from rare.export.checkpoint import model_from_checkpoint, read_checkpoint
from rare.graph import TENSORRT_OPS, GraphError, check_graph
from rare.modelspec import ModelSpec
from tests.conftest import FIXTURES, MV3_CONFIG


@pytest.fixture(scope="module")
def session(calib_model_dir: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(calib_model_dir / "model.onnx"), providers=["CPUExecutionProvider"])


def test_onnx_matches_paddleocr_outputs(session: ort.InferenceSession) -> None:
    probs, ids, scores = session.run(None, {"images": np.load(FIXTURES / "inputs.npy")})
    reference = np.load(FIXTURES / "outputs_mv3_calib.npy")
    assert np.abs(probs - reference).max() <= 2e-3
    assert (probs.argmax(2) == reference.argmax(2)).all()  # all 6 x 25 steps
    assert (ids == reference.argmax(2)).all() and ids.dtype == np.int32
    np.testing.assert_allclose(scores, probs.max(2), rtol=0, atol=0)


def test_onnx_matches_pytorch_at_batch_1_and_6(session: ort.InferenceSession, calib_checkpoint: Path) -> None:
    model, _, _ = model_from_checkpoint(calib_checkpoint, load_config(MV3_CONFIG))
    model.eval()
    images = np.random.default_rng(3).uniform(-1, 1, (6, 3, 32, 100)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(images)).numpy()
    (batch6,) = session.run(["probs"], {"images": images})
    assert np.abs(batch6 - expected).max() <= 1e-4
    for i in range(6):
        (alone,) = session.run(["probs"], {"images": images[i : i + 1]})
        assert np.abs(alone[0] - expected[i]).max() <= 1e-4
        assert np.abs(alone[0] - batch6[i]).max() <= 1e-5  # a sample does not depend on its batch


def test_graph_is_clean_and_tensorrt_friendly(calib_model_dir: Path) -> None:
    model = onnx.load(str(calib_model_dir / "model.onnx"))
    assert {o.domain: o.version for o in model.opset_import}.get("", 0) == 17
    ops = check_graph(calib_model_dir / "model.onnx")
    assert set(ops) <= TENSORRT_OPS
    assert not {"Loop", "Scan", "If", "Inverse", "OneHot"} & set(ops)
    assert ops["GridSample"] == 1 and ops["LSTM"] == 2
    grid = next(n for n in model.graph.node if n.op_type == "GridSample")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in grid.attribute}
    assert attrs["mode"] == b"bilinear" and attrs["padding_mode"] == b"zeros" and attrs["align_corners"] == 1
    (images,) = model.graph.input
    dims = images.type.tensor_type.shape.dim
    assert images.name == "images" and dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 32, 100]
    assert [o.name for o in model.graph.output] == ["probs", "ids", "scores"]


def test_check_graph_rejects_float64_and_unknown_ops(tmp_path: Path) -> None:
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.DOUBLE, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.DOUBLE, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "f64.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    with pytest.raises(GraphError, match="float64"):
        check_graph(path)
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 2])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Det", ["x"], ["y"])], "g", [x], [y])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    with pytest.raises(GraphError, match=r"outside the TensorRT-supported set: \['Det'\]"):
        check_graph(path)


def test_rare_json_describes_the_model(calib_model_dir: Path) -> None:
    spec = json.loads((calib_model_dir / "rare.json").read_text())
    assert spec["format"] == "rare-model/1" and spec["model_name"] == "rare_calib"
    assert spec["characters"] == list("0123456789abcdefghijklmnopqrstuvwxyz")
    assert spec["sos_index"] == 0 and spec["eos_index"] == 37 and spec["num_classes"] == 38
    assert spec["image_shape"] == [3, 32, 100] and spec["num_steps"] == 25
    assert spec["input"] == {"name": "images", "dtype": "float32", "shape": [-1, 3, 32, 100]}
    assert spec["outputs"]["ids"] == {"name": "ids", "dtype": "int32", "shape": [-1, 25]}
    assert spec["normalization"]["color"] == "BGR" and spec["architecture"] == "rec_mv3_tps_bilstm_att"


def test_export_needs_checkpoint_and_dir(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "rare", "export", "-c", str(MV3_CONFIG)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "export needs -o Global.pretrained_model" in result.stderr


def test_export_writes_the_weights_beside_the_graph(calib_model_dir: Path) -> None:
    payload = read_checkpoint(calib_model_dir / "model.pt")
    assert "optimizer" not in payload and payload["source"] == "paddle:rare_mv3_calib.pdparams"
    assert payload["charset"] == ModelSpec.load(calib_model_dir).characters


# float32 bits of 1e-39 (subnormal), -1e-25, 1e-21 and 5e-30: set as bits, because this process may already flush
# denormals, and then a float 1e-39 turns into 0 on its way into an array
BITS = [0x000AE398, -0x6A086978, 0x1C971DA0, 0x0ECAD2F8]


def test_export_zeroes_vanishing_weights_and_check_graph_refuses_them(calib_checkpoint: Path, tmp_path: Path) -> None:
    """A weight at 1e-39 (subnormal) or 1e-25 changes no output; export zeroes it, and a graph that holds one fails."""
    from rare.export.commands import export
    from rare.graph import count_vanishing, zero_vanishing_constants

    payload = read_checkpoint(calib_checkpoint)
    conv = next(k for k, v in payload["state_dict"].items() if k.endswith("conv.weight") and v.dim() == 4)
    payload["state_dict"][conv].view(-1).view(torch.int32)[:3] = torch.tensor(BITS[:3], dtype=torch.int32)
    poisoned = tmp_path / "poisoned.pt"
    torch.save(payload, poisoned)
    out = tmp_path / "export"
    export(str(MV3_CONFIG), [f"Global.pretrained_model={poisoned}", f"Global.save_inference_dir={out}"])
    graph = onnx.load(str(out / "model.onnx"))
    assert count_vanishing(graph) == 0
    assert (read_checkpoint(out / "model.pt")["state_dict"][conv].view(-1)[:3] == 0).all()
    tensor = next(t for t in graph.graph.initializer if onnx.numpy_helper.to_array(t).size > 3)
    values = onnx.numpy_helper.to_array(tensor).copy()
    values.view(np.int32).flat[:2] = [BITS[0], BITS[3]]
    tensor.CopyFrom(onnx.numpy_helper.from_array(values, tensor.name))
    onnx.save(graph, tmp_path / "vanishing.onnx")
    with pytest.raises(GraphError, match="2 vanishing weights"):
        check_graph(tmp_path / "vanishing.onnx")
    assert zero_vanishing_constants(graph) == 2 and count_vanishing(graph) == 0


def test_rare_json_records_the_resize(calib_model_dir: Path, calib_checkpoint: Path, tmp_path: Path) -> None:
    """PaddleOCR models keep bilinear (and their parity); a model trained with area resize is served with it."""
    from rare.export.commands import export

    assert ModelSpec.load(calib_model_dir).resize == "bilinear"
    export(
        str(MV3_CONFIG),
        [f"Global.pretrained_model={calib_checkpoint}", f"Global.save_inference_dir={tmp_path}", "Global.resize=area"],
    )
    spec = ModelSpec.load(tmp_path)
    assert spec.resize == "area" and "area when shrinking" in spec.normalization["resize"]
