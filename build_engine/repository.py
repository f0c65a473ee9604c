"""Write a ready Triton model repository ``REPO/<name>/`` for one serving target.

Layout (``<name>`` defaults to ``rare``)::

    REPO/<name>/config.pbtxt   generated from model_config_pb2.ModelConfig
    REPO/<name>/rare.json      the model's spec (also inside config.pbtxt as parameter "rare_spec")
    REPO/<name>/1/model.onnx   python and onnxruntime targets
    REPO/<name>/1/model.py     python target (Python backend, ONNX Runtime on CPU)
    REPO/<name>/1/model.plan   tensorrt target (TensorRT engine, same release as the Triton image)

The folder is assembled next to its final place and swapped in at the end, so a failed build (a TensorRT error,
say) leaves the previous model untouched.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from build_engine.errors import BuildError
from build_engine.triton_config import ServingOptions, model_config, to_pbtxt
from build_engine.trt_engine import EngineOptions, build_plan
from rare.modelspec import ModelSpec
from rare.onnx_runtime import tensor_specs

log = logging.getLogger("build_engine")

MODEL_PY = Path(__file__).with_name("triton_model.py")
VERSION = "1"


@dataclass(frozen=True)
class BuildResult:
    model_root: Path  # REPO/<name>
    config_path: Path
    files: list[Path]


def load_checked_spec(model_dir: Path) -> ModelSpec:
    """``rare.json`` of ``model_dir``, checked against the tensors of its ONNX graph."""
    spec = ModelSpec.load(model_dir)
    onnx_path = model_dir / spec.onnx_file
    if not onnx_path.is_file():
        raise BuildError(f"{onnx_path}: ONNX file not found (rare.json names {spec.onnx_file!r})")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    spec.check_io(tensor_specs(session.get_inputs()), tensor_specs(session.get_outputs()))
    return spec


def write_repository(
    model_dir: str | Path,
    repository: str | Path,
    target: str,
    options: ServingOptions,
    engine: EngineOptions | None = None,
) -> BuildResult:
    """Build ``repository/<options.name>/`` for ``target``; replaces a previous build of the same name."""
    model_dir, repository = Path(model_dir), Path(repository)
    spec = load_checked_spec(model_dir)
    config = model_config(spec, target, options)  # validates target and options before any work
    final = repository / options.name
    if final.exists() and not (final / "config.pbtxt").is_file():
        raise BuildError(f"{final}: exists and is not a Triton model folder; refusing to replace it")
    staging = repository / f".{options.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / VERSION).mkdir(parents=True)
    try:
        plan_options = (engine or EngineOptions()).for_max_batch(options.max_batch_size)
        write_version_files(model_dir / spec.onnx_file, spec, staging / VERSION, target, plan_options)
        (staging / "config.pbtxt").write_text(to_pbtxt(config), encoding="utf-8")
        shutil.copyfile(model_dir / "rare.json", staging / "rare.json")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = sorted(p for p in final.rglob("*") if p.is_file())
    log.info("wrote %s (%s): %s", final, target, ", ".join(str(p.relative_to(final)) for p in files))
    return BuildResult(final, final / "config.pbtxt", files)


def write_version_files(
    onnx_path: Path, spec: ModelSpec, version_dir: Path, target: str, engine: EngineOptions
) -> None:
    """The model files of version ``1`` for ``target``."""
    if target == "tensorrt":
        build_plan(onnx_path, spec, engine, version_dir / "model.plan")
        return
    shutil.copyfile(onnx_path, version_dir / "model.onnx")
    if target == "python":
        shutil.copyfile(MODEL_PY, version_dir / "model.py")
