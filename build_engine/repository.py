"""Write a ready Triton model repository ``REPO/<name>/`` for one serving target.

Layout (``<name>`` defaults to ``rare``)::

    REPO/<name>/config.pbtxt   generated from model_config_pb2.ModelConfig
    REPO/<name>/rare.json      the model's spec (also inside config.pbtxt as parameter "rare_spec")
    REPO/<name>/<v>/model.onnx   python and onnxruntime targets (<v>: rare.json's model_version, or --version)
    REPO/<name>/<v>/model.py     python target (Python backend, ONNX Runtime on CPU)
    REPO/<name>/<v>/model.plan   tensorrt target (TensorRT engine, same release as the Triton image)

Versions already in ``REPO/<name>/`` are kept (build_engine.versions: rollouts and rollbacks). The folder is
assembled next to its final place and swapped in at the end, so a failed build (a TensorRT error, say) leaves the
previous model untouched.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import onnxruntime as ort

from build_engine.engine_cache import Platform, cache_key, cached_version, timing_cache_path
from build_engine.errors import BuildError
from build_engine.triton_config import ServingOptions, model_config, to_pbtxt
from build_engine.trt_engine import EngineOptions, build_plan
from build_engine.versions import present_versions, version_dir_name
from rare.modelspec import ModelSpec
from rare.onnx_runtime import tensor_specs

log = logging.getLogger("build_engine")

MODEL_PY = Path(__file__).with_name("triton_model.py")


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
    version: str | None = None,
    engine_cache: Path | None = None,
) -> BuildResult:
    """Build version ``version`` (default: rare.json's) of ``repository/<options.name>/`` for ``target``, keeping
    the other versions there; a previous build of the same version is replaced."""
    model_dir, repository = Path(model_dir), Path(repository)
    spec = load_checked_spec(model_dir)
    config = model_config(spec, target, options)  # validates target and options before any work
    number = version_dir_name(version or spec.model_version)
    final = repository / options.name
    if final.exists() and not (final / "config.pbtxt").is_file():
        raise BuildError(f"{final}: exists and is not a Triton model folder; refusing to replace it")
    staging = repository / f".{options.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / number).mkdir(parents=True)
    try:
        plan_options = (engine or EngineOptions()).for_max_batch(options.max_batch_size)
        build_version(model_dir, spec, staging / number, target, plan_options, options, engine_cache)
        for earlier in present_versions(final) if final.exists() else []:
            if str(earlier) != number:
                shutil.copytree(final / str(earlier), staging / str(earlier))
        (staging / "config.pbtxt").write_text(to_pbtxt(config), encoding="utf-8")
        shutil.copyfile(model_dir / "rare.json", staging / "rare.json")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = sorted(p for p in final.rglob("*") if p.is_file())
    log.info("wrote %s (%s): %s", final, target, ", ".join(str(p.relative_to(final)) for p in files))
    return BuildResult(final, final / "config.pbtxt", files)


def build_version(
    model_dir: Path,
    spec: ModelSpec,
    version_dir: Path,
    target: str,
    engine: EngineOptions,
    options: ServingOptions,
    engine_cache: Path | None,
) -> None:
    """The version's files, from the engine cache when it holds this model for this platform and flags."""
    if engine_cache is None:
        write_version_files(model_dir / spec.onnx_file, spec, version_dir, target, engine)
        return
    platform = Platform.here()
    if engine.timing_cache is None:
        engine = replace(engine, timing_cache=timing_cache_path(engine_cache, platform))
    flags = f"{target} {options} {replace(engine, timing_cache=None)}"
    key = cache_key(model_dir, platform, flags)

    def build(directory: Path) -> None:
        write_version_files(model_dir / spec.onnx_file, spec, directory, target, engine)

    cached_version(engine_cache, key, version_dir, build)


def write_version_files(
    onnx_path: Path, spec: ModelSpec, version_dir: Path, target: str, engine: EngineOptions
) -> None:
    """The model files of one version for ``target``."""
    if target == "tensorrt":
        build_plan(onnx_path, spec, engine, version_dir / "model.plan")
        return
    if target == "openvino":  # the IR Triton's OpenVINO backend loads; weights kept in FP32 (BF16 is a run setting)
        import openvino as ov

        from rare.engines import openvino_core

        model = openvino_core().read_model(str(onnx_path))
        ov.save_model(model, str(version_dir / "model.xml"), compress_to_fp16=False)
        return
    shutil.copyfile(onnx_path, version_dir / "model.onnx")
    if target == "python":
        shutil.copyfile(MODEL_PY, version_dir / "model.py")
