"""config.pbtxt generation: every target's config parses as a ModelConfig and says what the brief asks."""

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from build_engine.errors import BuildError
from build_engine.triton_config import (
    TARGETS,
    ServingOptions,
    model_config,
    parse_pbtxt,
    spec_from_config,
    to_pbtxt,
)
from rare.modelspec import ModelSpec


@pytest.fixture(scope="module")
def spec(calib_model_dir: Path) -> ModelSpec:
    return ModelSpec.load(calib_model_dir)


def generated(spec: ModelSpec, target: str, **options: object) -> mc.ModelConfig:
    """Generate, print to text and parse back as Triton would."""
    text = to_pbtxt(model_config(spec, target, ServingOptions(**options)))
    return text_format.Parse(text, mc.ModelConfig())


@pytest.mark.parametrize("target", TARGETS)
def test_config_io_batching_warmup_and_versions(spec: ModelSpec, target: str) -> None:
    config = generated(spec, target, max_batch_size=32, max_queue_delay_us=500, max_queue_size=100)
    assert config.name == "rare" and config.max_batch_size == 32
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [("images", mc.TYPE_FP32, [3, 32, 100])]
    assert [(o.name, o.data_type, list(o.dims)) for o in config.output] == [
        ("ids", mc.TYPE_INT32, [25]),
        ("scores", mc.TYPE_FP32, [25]),
        ("probs", mc.TYPE_FP32, [25, spec.num_classes]),
    ]
    batching = config.dynamic_batching
    assert batching.max_queue_delay_microseconds == 500
    policy = batching.default_queue_policy
    assert policy.max_queue_size == 100 and policy.timeout_action == mc.ModelQueuePolicy.REJECT
    assert policy.allow_timeout_override and policy.default_timeout_microseconds == 0
    assert [(w.batch_size, w.inputs["images"].zero_data) for w in config.model_warmup] == [(1, True), (32, True)]
    assert list(config.model_warmup[0].inputs["images"].dims) == [3, 32, 100]
    assert config.version_policy.WhichOneof("policy_choice") == "latest"
    assert config.version_policy.latest.num_versions == 1
    assert config.optimization.cuda.graphs == (target == "tensorrt")


def test_platform_backend_and_instance_kind(spec: ModelSpec) -> None:
    python = generated(spec, "python", instances=3, threads=2)
    assert python.backend == "python" and not python.platform
    assert (python.instance_group[0].kind, python.instance_group[0].count) == (mc.ModelInstanceGroup.KIND_CPU, 3)
    assert python.parameters["intra_op_threads"].string_value == "2"
    ort_cpu, ort_gpu = generated(spec, "onnxruntime"), generated(spec, "onnxruntime", gpu=True)
    assert ort_cpu.platform == ort_gpu.platform == "onnxruntime_onnx"
    assert ort_cpu.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU
    assert ort_gpu.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU
    trt = generated(spec, "tensorrt")
    assert trt.platform == "tensorrt_plan" and trt.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU


@pytest.mark.parametrize("target", TARGETS)
def test_rare_json_travels_in_the_config(spec: ModelSpec, target: str) -> None:
    config = generated(spec, target)
    assert spec_from_config(config) == spec
    assert "\n" not in config.parameters["rare_spec"].string_value  # one compact line


def test_single_max_batch_gives_one_warmup(spec: ModelSpec) -> None:
    assert [w.batch_size for w in generated(spec, "python", max_batch_size=1).model_warmup] == [1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_batch_size": 0}, "--max-batch-size"),
        ({"instances": 0}, "--instances"),
        ({"max_queue_size": -1}, "--max-queue-size"),
        ({"name": "a/b"}, "--name"),
    ],
)
def test_bad_options_are_refused(spec: ModelSpec, options: dict, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        model_config(spec, "python", ServingOptions(**options))


def test_unknown_target_and_unknown_key(spec: ModelSpec) -> None:
    with pytest.raises(BuildError, match="unknown target"):
        model_config(spec, "tflite", ServingOptions())
    with pytest.raises(text_format.ParseError):
        parse_pbtxt('name: "rare"\nmax_queue_delay_us: 10\n')


def test_the_openvino_target_and_the_python_targets_engine(calib_model_dir: Path) -> None:
    spec = ModelSpec.load(calib_model_dir)
    openvino = model_config(spec, "openvino", ServingOptions(engine="openvino-bf16", threads=2))
    assert openvino.backend == "openvino" and not openvino.platform
    params = {key: value.string_value for key, value in openvino.parameters.items()}
    assert params["INFERENCE_PRECISION_HINT"] == "bf16" and params["INFERENCE_NUM_THREADS"] == "2"
    assert params["RESHAPE_IO_LAYERS"] == "yes"  # the batch axis stays dynamic
    assert openvino.instance_group[0].kind == openvino.instance_group[0].KIND_CPU
    assert parse_pbtxt(to_pbtxt(openvino)) == openvino
    python = model_config(spec, "python", ServingOptions(engine="openvino-fp32"))
    assert python.parameters["engine"].string_value == "openvino-fp32"
