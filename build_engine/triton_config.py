"""``config.pbtxt`` generated from ``model_config_pb2.ModelConfig`` (never a template), for each serving target.

The I/O names, dtypes and dims come from ``rare.json``; the whole ``rare.json`` also travels in the config as the
string parameter ``rare_spec``, so a gateway on another host learns the charset and tensor names from
``get_model_config`` alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from build_engine.errors import BuildError
from rare.engines import precision_hint
from rare.modelspec import ModelSpec, TensorSpec, normalize_dtype

TARGETS = ("python", "onnxruntime", "tensorrt", "openvino")
ENGINE_PARAMETER = "engine"  # read by our Python-backend model.py: onnxruntime, openvino-fp32, openvino-bf16
SPEC_PARAMETER = "rare_spec"
THREADS_PARAMETER = "intra_op_threads"  # read by our Python-backend model.py
ORT_THREADS_PARAMETER = "intra_op_thread_count"  # read by Triton's onnxruntime backend
OUTPUT_ORDER = ("ids", "scores", "probs")
TRITON_DTYPES = {
    "float32": mc.TYPE_FP32,
    "float16": mc.TYPE_FP16,
    "int32": mc.TYPE_INT32,
    "int64": mc.TYPE_INT64,
}


@dataclass(frozen=True)
class ServingOptions:
    """What the ``build_engine`` flags set in ``config.pbtxt``."""

    name: str = "rare"
    max_batch_size: int = 64
    instances: int = 1
    max_queue_delay_us: int = 2000
    max_queue_size: int = 512
    queue_timeout_us: int = 0
    gpu: bool = False  # onnxruntime target only: KIND_GPU instead of KIND_CPU
    threads: int = 1  # intra-op threads per CPU instance (python, onnxruntime and openvino targets)
    engine: str = "onnxruntime"  # python target: the engine model.py runs; openvino target: openvino-fp32 or -bf16

    def check(self) -> None:
        """Raise :class:`BuildError` on values Triton would refuse or that make no sense."""
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise BuildError(f"--name {self.name!r}: expected a plain directory name")
        for flag, value, minimum in (
            ("--max-batch-size", self.max_batch_size, 1),
            ("--instances", self.instances, 1),
            ("--threads", self.threads, 1),
            ("--max-queue-delay-us", self.max_queue_delay_us, 0),
            ("--max-queue-size", self.max_queue_size, 0),
            ("--queue-timeout-us", self.queue_timeout_us, 0),
        ):
            if value < minimum:
                raise BuildError(f"{flag} {value}: must be at least {minimum}")


def triton_dtype(tensor: TensorSpec) -> int:
    dtype = normalize_dtype(tensor.dtype)
    if dtype not in TRITON_DTYPES:
        raise BuildError(f"tensor {tensor.name!r}: dtype {tensor.dtype!r} has no Triton type here")
    return TRITON_DTYPES[dtype]


def batchless_dims(tensor: TensorSpec) -> list[int]:
    """Dims without the leading batch axis (Triton adds it back when max_batch_size > 0)."""
    if len(tensor.shape) < 2:
        raise BuildError(f"tensor {tensor.name!r}: shape {tensor.shape} has no batch axis")
    return list(tensor.shape[1:])


def io_config(spec: ModelSpec) -> tuple[list[mc.ModelInput], list[mc.ModelOutput]]:
    """Triton inputs/outputs named and shaped as ``rare.json`` says (outputs in the order ids, scores, probs)."""
    image = spec.input
    inputs = [mc.ModelInput(name=image.name, data_type=triton_dtype(image), dims=batchless_dims(image))]
    tensors = [spec.outputs[role] for role in OUTPUT_ORDER if role in spec.outputs]
    outputs = [mc.ModelOutput(name=t.name, data_type=triton_dtype(t), dims=batchless_dims(t)) for t in tensors]
    return inputs, outputs


def dynamic_batching(options: ServingOptions) -> mc.ModelDynamicBatching:
    """Batch concurrent requests; a full queue or an expired wait is rejected at once (UNAVAILABLE)."""
    policy = mc.ModelQueuePolicy(
        timeout_action=mc.ModelQueuePolicy.REJECT,
        default_timeout_microseconds=options.queue_timeout_us,
        allow_timeout_override=True,
        max_queue_size=options.max_queue_size,
    )
    return mc.ModelDynamicBatching(max_queue_delay_microseconds=options.max_queue_delay_us, default_queue_policy=policy)


def warmup(spec: ModelSpec, options: ServingOptions) -> list[mc.ModelWarmup]:
    """Zero images at batch 1 and at max_batch_size, so the first real requests do not pay for lazy init."""
    image = spec.input
    sizes = sorted({1, options.max_batch_size})
    return [
        mc.ModelWarmup(
            name=f"zeros_batch_{size}",
            batch_size=size,
            count=1,
            inputs={
                image.name: mc.ModelWarmup.Input(
                    data_type=triton_dtype(image), dims=batchless_dims(image), zero_data=True
                )
            },
        )
        for size in sizes
    ]


def instance_kind(target: str, options: ServingOptions) -> int:
    if target == "tensorrt" or (target == "onnxruntime" and options.gpu):
        return mc.ModelInstanceGroup.KIND_GPU
    return mc.ModelInstanceGroup.KIND_CPU


def model_config(spec: ModelSpec, target: str, options: ServingOptions) -> mc.ModelConfig:
    """The full ``ModelConfig`` of ``target`` (one of :data:`TARGETS`)."""
    if target not in TARGETS:
        raise BuildError(f"unknown target {target!r}; choose from {list(TARGETS)}")
    options.check()
    inputs, outputs = io_config(spec)
    config = mc.ModelConfig(
        name=options.name,
        max_batch_size=options.max_batch_size,
        input=inputs,
        output=outputs,
        dynamic_batching=dynamic_batching(options),
        instance_group=[mc.ModelInstanceGroup(count=options.instances, kind=instance_kind(target, options))],
        model_warmup=warmup(spec, options),
        version_policy=mc.ModelVersionPolicy(latest=mc.ModelVersionPolicy.Latest(num_versions=1)),  # see versions.py
    )
    config.parameters[SPEC_PARAMETER].string_value = json.dumps(asdict(spec), ensure_ascii=False, separators=(",", ":"))
    if target == "python":
        config.backend = "python"
        config.parameters[THREADS_PARAMETER].string_value = str(options.threads)
        config.parameters[ENGINE_PARAMETER].string_value = options.engine
    elif target == "openvino":  # Triton's OpenVINO backend on the IR model.xml/model.bin; parameters are OV properties
        config.backend = "openvino"
        for key, value in (
            ("INFERENCE_PRECISION_HINT", precision_hint(options.engine)),
            ("INFERENCE_NUM_THREADS", str(options.threads)),
            ("NUM_STREAMS", "1"),
            ("PERFORMANCE_HINT", "LATENCY"),
            ("RESHAPE_IO_LAYERS", "yes"),  # the batch axis stays dynamic
        ):
            config.parameters[key].string_value = value
    elif target == "onnxruntime":
        config.platform = "onnxruntime_onnx"
        if not options.gpu:
            config.parameters[ORT_THREADS_PARAMETER].string_value = str(options.threads)
    else:
        config.platform = "tensorrt_plan"
        config.optimization.cuda.graphs = True
    return config


def to_pbtxt(config: mc.ModelConfig) -> str:
    """Protobuf text format, as Triton reads ``config.pbtxt``.

    Proto3 fields at their default are not printed: ``timeout_action: REJECT`` (enum value 0) and a zero
    ``default_timeout_microseconds`` are in the config even though the text does not show them.
    """
    return text_format.MessageToString(config, as_utf8=True)


def parse_pbtxt(text: str) -> mc.ModelConfig:
    """Parse ``config.pbtxt`` text the way Triton does (unknown keys are errors)."""
    return text_format.Parse(text, mc.ModelConfig())


def spec_from_config(config: mc.ModelConfig) -> ModelSpec:
    """The ``rare.json`` carried in a config (what a gateway gets from ``get_model_config``)."""
    if SPEC_PARAMETER not in config.parameters:
        raise BuildError(f"model config {config.name!r} has no {SPEC_PARAMETER!r} parameter")
    return ModelSpec.from_json(config.parameters[SPEC_PARAMETER].string_value, f"{config.name} config")
