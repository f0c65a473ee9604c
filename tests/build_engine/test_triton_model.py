"""The Python-backend model.py, run in-process against a stand-in for Triton's triton_python_backend_utils."""

import ast
import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from google.protobuf import json_format

from build_engine.triton_config import ServingOptions, model_config
from rare.modelspec import ModelSpec

MODEL_PY = Path(__file__).resolve().parents[2] / "build_engine" / "triton_model.py"


class FakeTensor:
    """pb_utils.Tensor as far as model.py uses it: DLPack in and out."""

    def __init__(self, name: str, array: np.ndarray) -> None:
        self.name, self.array = name, array

    def __dlpack__(self, **kwargs: object) -> object:
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple:
        return self.array.__dlpack_device__()

    @staticmethod
    def from_dlpack(name: str, obj: object) -> "FakeTensor":
        return FakeTensor(name, np.from_dlpack(obj).copy())


class FakeError:
    INVALID_ARG = 3

    def __init__(self, message: str, code: int = 0) -> None:
        self.message, self.code = message, code


class FakeResponse:
    def __init__(self, output_tensors: list, error: FakeError | None = None) -> None:
        self.outputs = {t.name: t.array for t in output_tensors}
        self.error = error


class FakeRequest:
    def __init__(self, inputs: dict[str, np.ndarray], requested: tuple[str, ...] = ()) -> None:
        self.inputs, self.requested = inputs, list(requested)

    def requested_output_names(self) -> list[str]:
        return self.requested


def fake_pb_utils() -> types.ModuleType:
    module = types.ModuleType("triton_python_backend_utils")
    module.Tensor = FakeTensor
    module.TritonError = FakeError
    module.InferenceResponse = FakeResponse
    module.triton_string_to_numpy = {"TYPE_FP32": np.float32}.__getitem__

    def get_input_tensor_by_name(request: FakeRequest, name: str) -> FakeTensor | None:
        return FakeTensor(name, request.inputs[name]) if name in request.inputs else None

    module.get_input_tensor_by_name = get_input_tensor_by_name
    return module


@pytest.fixture(scope="module")
def model(calib_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """model.py initialized the way Triton does it: a JSON model config and the version folder."""
    spec = ModelSpec.load(calib_model_dir)
    root = tmp_path_factory.mktemp("python_model")
    (root / "1").mkdir()
    (root / "1" / "model.onnx").symlink_to(calib_model_dir / "model.onnx")
    config = json_format.MessageToJson(model_config(spec, "python", ServingOptions()), preserving_proto_field_name=True)
    saved = sys.modules.get("triton_python_backend_utils")
    sys.modules["triton_python_backend_utils"] = fake_pb_utils()
    try:
        module = importlib.import_module("build_engine.triton_model")
        instance = module.TritonPythonModel()
        instance.initialize({"model_config": config, "model_repository": str(root), "model_version": "1"})
        yield instance
    finally:
        sys.modules.pop("build_engine.triton_model", None)
        if saved is not None:
            sys.modules["triton_python_backend_utils"] = saved
        else:
            sys.modules.pop("triton_python_backend_utils", None)


def images(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (count, 3, 32, 100)).astype(np.float32)


def test_one_run_per_batch_split_back_per_request(model: object, calib_model_dir: Path) -> None:
    reference = ort.InferenceSession(str(calib_model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    batches = [images(1, 0), images(3, 1), images(2, 2)]
    requests = [
        FakeRequest({"images": batches[0]}),
        FakeRequest({"images": batches[1]}, requested=("ids",)),
        FakeRequest({"images": batches[2]}, requested=("scores", "ids")),
    ]
    calls = []
    real_run = model.session.run
    model.session.run = lambda *args: calls.append(args[1]["images"].shape) or real_run(*args)
    try:
        responses = model.execute(requests)
    finally:
        del model.session.run
    assert calls == [(6, 3, 32, 100)]
    assert [sorted(r.outputs) for r in responses] == [["ids", "probs", "scores"], ["ids"], ["ids", "scores"]]
    for batch, response in zip(batches, responses, strict=True):
        probs, ids, scores = reference.run(["probs", "ids", "scores"], {"images": batch})
        assert response.error is None and (response.outputs["ids"] == ids).all()
        if "scores" in response.outputs:
            np.testing.assert_allclose(response.outputs["scores"], scores, atol=1e-5)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"images": np.zeros((1, 3, 32, 99), np.float32)}, "shape [1, 3, 32, 99], expected [N, 3, 32, 100]"),
        ({"images": np.zeros((3, 32, 100), np.float32)}, "shape [3, 32, 100]"),
        ({"images": np.zeros((1, 3, 32, 100), np.float64)}, "dtype float64"),
        ({"pixels": np.zeros((1, 3, 32, 100), np.float32)}, "missing input 'images'"),
    ],
)
def test_bad_request_gets_an_error_and_the_others_are_served(model: object, inputs: dict, message: str) -> None:
    good = FakeRequest({"images": images(2, 3)})
    bad, after = model.execute([FakeRequest(inputs), good])
    assert bad.error is not None and message in bad.error.message and bad.error.code == FakeError.INVALID_ARG
    assert not bad.outputs
    assert after.error is None and after.outputs["ids"].shape == (2, 25)


def test_runtime_failure_becomes_error_responses(model: object) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("out of memory")

    model.session.run = broken
    try:
        responses = model.execute([FakeRequest({"images": images(1, 4)}), FakeRequest({"images": images(1, 5)})])
    finally:
        del model.session.run
    assert all(r.error is not None and "out of memory" in r.error.message for r in responses)


def test_model_py_is_self_contained() -> None:
    tree = ast.parse(MODEL_PY.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    runtimes = {"numpy", "onnxruntime", "openvino"}  # openvino only when the model's engine parameter names it
    assert imported <= {"__future__", "json", "os", "triton_python_backend_utils", *runtimes}


def test_intra_op_threads_come_from_the_config(model: object) -> None:
    assert model.session.get_session_options().intra_op_num_threads == 1  # parameter intra_op_threads
