"""Build ``model.plan`` with the TensorRT Python API (TensorRT 10 or 11; imported lazily).

* TensorRT 10: parse the FP32 ONNX, set ``BuilderFlag.FP16`` and pin the nodes of
  :func:`build_engine.fp16.fp32_node_names` (TPS grid generator, GridSample, Softmax, ArgMax, ReduceMax) to FP32
  with ``OBEY_PRECISION_CONSTRAINTS``.
* TensorRT 11 removed the FP16 flag (every network is strongly typed): write ``model_fp16.onnx`` first
  (:func:`build_engine.fp16.convert_to_fp16`, same FP32 nodes) and build that graph as typed.

One optimization profile on the image input (min 1, opt ``opt_batch``, max ``max_batch``), a workspace limit and
an optional timing cache file (loaded if present, saved after the build).

An engine only runs on the TensorRT version and GPU architecture that built it: build inside
``nvcr.io/nvidia/tensorrt:<release>-py3`` of the same release as ``nvcr.io/nvidia/tritonserver:<release>-py3``,
on the GPU model that will serve it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from build_engine.errors import BuildError, TensorRTMissingError
from build_engine.fp16 import convert_to_fp16, fp32_node_names
from rare.modelspec import ModelSpec

log = logging.getLogger("build_engine.tensorrt")

FP32_LAYER_TYPES = ("GRID_SAMPLE", "SOFTMAX")  # pinned by type as well as by ONNX node name


@dataclass(frozen=True)
class EngineOptions:
    """TensorRT build settings (``max_batch`` follows ``--max-batch-size``)."""

    max_batch: int = 64
    opt_batch: int = 16
    workspace_mib: int = 1024
    timing_cache: Path | None = None

    def for_max_batch(self, max_batch: int) -> EngineOptions:
        """These options with the profile max set to ``max_batch`` (and opt clamped to it)."""
        if self.opt_batch < 1 or self.workspace_mib < 1:
            raise BuildError(f"--opt-batch {self.opt_batch} and --workspace-mib {self.workspace_mib} must be >= 1")
        return replace(self, max_batch=max_batch, opt_batch=min(self.opt_batch, max_batch))


def import_tensorrt() -> ModuleType:
    try:
        import tensorrt
    except ImportError:
        raise TensorRTMissingError() from None
    return tensorrt


def tensorrt_major(trt: ModuleType) -> int:
    major = int(str(trt.__version__).split(".")[0])
    if major < 10:
        raise BuildError(f"TensorRT {trt.__version__} is too old: this build needs TensorRT 10 or 11")
    return major


def build_plan(onnx_path: Path, spec: ModelSpec, options: EngineOptions, plan_path: Path) -> None:
    """Write the serialized engine of ``onnx_path`` to ``plan_path`` (see the module docstring)."""
    trt = import_tensorrt()
    major = tensorrt_major(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch in 10.x; always strongly typed in 11.x
    config = builder.create_builder_config()
    with tempfile.TemporaryDirectory(prefix="rare_fp16_") as scratch:
        # TensorRT 11 has no FP16 flag: precision comes from the typed FP16 graph
        source = convert_to_fp16(onnx_path, Path(scratch) / "model_fp16.onnx").path if major >= 11 else onnx_path
        parse_onnx(trt, network, logger, source)
    if major == 10:
        pin_fp32_layers(trt, network, config, fp32_node_names(load_onnx(onnx_path)))
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    add_profile(builder, config, spec, options)
    cache = load_timing_cache(config, options.timing_cache)
    log.info("building TensorRT %s engine (max batch %d); this takes minutes", trt.__version__, options.max_batch)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BuildError("TensorRT could not build the engine (see the TensorRT log above)")
    plan_path.write_bytes(bytes(plan))
    save_timing_cache(config, cache, options.timing_cache)
    log.info("wrote %s (%.1f MiB)", plan_path, plan_path.stat().st_size / 2**20)


def load_onnx(path: Path) -> Any:
    import onnx

    return onnx.load(str(path), load_external_data=False)


def parse_onnx(trt: ModuleType, network: Any, logger: Any, path: Path) -> None:
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BuildError(f"{path}: TensorRT's ONNX parser failed: " + "; ".join(errors))


def pin_fp32_layers(trt: ModuleType, network: Any, config: Any, node_names: list[str]) -> int:
    """TensorRT 10: FP16 everywhere except the layers of ``node_names`` (and GridSample/Softmax layers)."""
    config.set_flag(trt.BuilderFlag.FP16)
    config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    float_types = (trt.float32, trt.float16)
    pinned_types = {getattr(trt.LayerType, name) for name in FP32_LAYER_TYPES}
    pinned = 0
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        origin = f"{layer.name} {getattr(layer, 'metadata', '')}"
        if layer.type not in pinned_types and not any(name in origin for name in node_names):
            continue
        outputs = [layer.get_output(i) for i in range(layer.num_outputs)]
        if not outputs or outputs[0].dtype not in float_types:
            continue  # shape arithmetic (int tensors) has no precision to pin
        layer.precision = trt.float32
        for i, tensor in enumerate(outputs):
            if tensor.dtype in float_types:
                layer.set_output_type(i, trt.float32)
        pinned += 1
    log.info("TensorRT 10: FP16 with %d layers pinned to FP32", pinned)
    return pinned


def add_profile(builder: Any, config: Any, spec: ModelSpec, options: EngineOptions) -> None:
    dims = tuple(spec.input.shape[1:])
    profile = builder.create_optimization_profile()
    profile.set_shape(spec.input.name, (1, *dims), (options.opt_batch, *dims), (options.max_batch, *dims))
    config.add_optimization_profile(profile)


def load_timing_cache(config: Any, path: Path | None) -> Any:
    """A timing cache from ``path`` (empty if missing), attached to ``config``."""
    data = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(data)
    config.set_timing_cache(cache, ignore_mismatch=False)
    return cache


def save_timing_cache(config: Any, cache: Any, path: Path | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")  # renamed into place: readers never see half of it
    partial.write_bytes(bytes(config.get_timing_cache().serialize()))
    os.replace(partial, path)
    log.info("saved the timing cache to %s", path)
