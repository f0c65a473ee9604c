"""The TensorRT build: its logic against a stand-in module here, and the real thing on a GPU (marked gpu)."""

import importlib.util
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import onnxruntime as ort
import pytest

from build_engine.errors import TensorRTMissingError
from build_engine.trt_engine import EngineOptions, build_plan, import_tensorrt
from rare.images import read_image
from rare.modelspec import ModelSpec
from rare.preprocess import preprocess_batch
from tests.conftest import val_crops


def test_missing_tensorrt_names_the_pairing_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    with pytest.raises(TensorRTMissingError) as error:
        import_tensorrt()
    assert str(error.value) == (
        "TensorRT is not installed: build the engine inside nvcr.io/nvidia/tensorrt:<release>-py3 "
        "(same release as the Triton image)"
    )


def test_opt_batch_is_clamped_to_max_batch() -> None:
    options = EngineOptions(opt_batch=16).for_max_batch(8)
    assert (options.max_batch, options.opt_batch) == (8, 8)


def fake_tensorrt(version: str) -> mock.MagicMock:
    trt = mock.MagicMock(name="tensorrt")
    trt.__version__ = version
    builder = trt.Builder.return_value
    builder.create_network.return_value.num_layers = 0
    builder.build_serialized_network.return_value = b"PLAN"
    trt.OnnxParser.return_value.parse_from_file.return_value = True
    trt.BuilderFlag.FP16 = "FP16"
    return trt


@pytest.mark.parametrize("version", ["10.8.0.43", "11.1.0.10"])
def test_build_plan_logic_per_major_version(
    calib_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    trt = fake_tensorrt(version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    spec = ModelSpec.load(calib_model_dir)
    cache = tmp_path / "timing.cache"
    options = EngineOptions(opt_batch=16, workspace_mib=512, timing_cache=cache).for_max_batch(32)
    build_plan(calib_model_dir / "model.onnx", spec, options, tmp_path / "model.plan")
    assert (tmp_path / "model.plan").read_bytes() == b"PLAN" and cache.is_file()
    config = trt.Builder.return_value.create_builder_config.return_value
    flags = [call.args[0] for call in config.set_flag.call_args_list]
    parsed = Path(trt.OnnxParser.return_value.parse_from_file.call_args.args[0])
    if version.startswith("10."):
        assert "FP16" in flags and parsed == calib_model_dir / "model.onnx"
    else:  # TensorRT 11: no FP16 flag; the strongly typed network comes from the FP16 ONNX
        assert "FP16" not in flags and parsed.name == "model_fp16.onnx"
    profile = trt.Builder.return_value.create_optimization_profile.return_value
    profile.set_shape.assert_called_once_with("images", (1, 3, 32, 100), (16, 3, 32, 100), (32, 3, 32, 100))
    config.set_memory_pool_limit.assert_called_once_with(trt.MemoryPoolType.WORKSPACE, 512 << 20)


def cuda_available() -> bool:
    if importlib.util.find_spec("tensorrt") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def run_engine(plan: bytes, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Run a serialized engine on ``batch`` with torch CUDA buffers."""
    import tensorrt as trt
    import torch

    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(plan)
    context = engine.create_execution_context()
    images = torch.from_numpy(batch).cuda()
    context.set_input_shape("images", tuple(images.shape))
    context.set_tensor_address("images", images.data_ptr())
    dtypes = {"probs": torch.float32, "ids": torch.int32, "scores": torch.float32}
    outputs = {
        name: torch.empty(tuple(context.get_tensor_shape(name)), dtype=t, device="cuda") for name, t in dtypes.items()
    }
    for name, tensor in outputs.items():
        context.set_tensor_address(name, tensor.data_ptr())
    stream = torch.cuda.Stream()
    assert context.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    return {name: tensor.cpu().numpy() for name, tensor in outputs.items()}


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs tensorrt and a CUDA GPU")
def test_engine_matches_onnxruntime(calib_model_dir: Path, tmp_path: Path) -> None:
    spec = ModelSpec.load(calib_model_dir)
    plan = tmp_path / "model.plan"
    build_plan(calib_model_dir / "model.onnx", spec, EngineOptions().for_max_batch(16), plan)
    batch = preprocess_batch([read_image(path) for path, _ in val_crops("IIIT5K", 16)])
    session = ort.InferenceSession(str(calib_model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    probs, ids = session.run(["probs", "ids"], {"images": batch})
    engine = run_engine(plan.read_bytes(), batch)
    # FP16 on the calibration model (near its decision boundaries): most steps agree, probabilities stay close
    assert (engine["ids"] == ids).mean() > 0.85
    assert np.abs(engine["probs"] - probs).mean() < 1e-2
    single = run_engine(plan.read_bytes(), batch[:1])  # batch 1 equals row 0 of batch 16
    assert (single["ids"] == engine["ids"][:1]).all()
