"""FP16 ONNX: FP32 islands where they belong, float32 graph I/O, and close to FP32 under ONNX Runtime."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from build_engine.errors import BuildError
from build_engine.fp16 import convert_to_fp16, fp32_node_names
from rare.gates.fp16 import fp16_session
from rare.images import read_image
from rare.preprocess import preprocess_batch
from tests.conftest import val_crops


@pytest.fixture(scope="module")
def fp16_model(calib_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("fp16") / "model_fp16.onnx"
    return path, convert_to_fp16(calib_model_dir / "model.onnx", path)


def elem_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    values = (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)
    return {v.name: v.type.tensor_type.elem_type for v in values}


def test_graph_io_stays_float32(fp16_model: tuple[Path, object]) -> None:
    model = onnx.load(str(fp16_model[0]))
    types = {v.name: v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)}
    assert types == {
        "images": TensorProto.FLOAT,
        "probs": TensorProto.FLOAT,
        "ids": TensorProto.INT32,
        "scores": TensorProto.FLOAT,
    }


def test_tps_gridsample_softmax_stay_fp32_and_the_rest_is_fp16(fp16_model: tuple[Path, object]) -> None:
    path, result = fp16_model
    model = onnx.load(str(path))
    types = elem_types(model)
    kept = [n for n in model.graph.node if n.name in set(result.fp32_nodes)]
    assert {"GridSample", "Softmax", "MatMul"} <= {n.op_type for n in kept}
    grid_matmul = next(n for n in kept if n.op_type == "MatMul" and "/grid_generator/" in n.name)
    assert all(types[name] == TensorProto.FLOAT for name in (*grid_matmul.input, *grid_matmul.output))
    for node in kept:
        if node.op_type in ("GridSample", "Softmax"):
            assert types[node.output[0]] == TensorProto.FLOAT, node.name
    assert result.fp16_ops["Conv"] > 50 and result.fp16_ops["Gemm"] > 50 and result.fp16_ops["LSTM"] == 2


def test_fp16_runs_close_to_fp32_on_real_crops(calib_model_dir: Path, fp16_model: tuple[Path, object]) -> None:
    batch = preprocess_batch([read_image(path) for path, _ in val_crops("IIIT5K", 16)])
    fp32 = ort.InferenceSession(str(calib_model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    probs32, ids32 = fp32.run(["probs", "ids"], {"images": batch})
    probs16, ids16 = fp16_session(fp16_model[0], threads=1).run(["probs", "ids"], {"images": batch})
    assert probs16.dtype == np.float32 and ids16.dtype == np.int32
    # the calibration model is near its decision boundaries: FP16 weights alone flip a few percent of the steps
    assert (ids16 == ids32).mean() > 0.85
    assert np.abs(probs16 - probs32).mean() < 5e-3


def test_a_graph_without_tps_grid_generator_is_refused(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"], "relu")
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(BuildError, match="TPS grid generator"):
        fp32_node_names(helper.make_model(graph))
