"""A real tritonserver on the python repository: same results as ONNX Runtime, dynamic batching, metrics, errors."""

import asyncio
import time
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
from tritonclient.utils import InferenceServerException

from build_engine.repository import write_repository
from build_engine.triton_config import ServingOptions, spec_from_config
from local_triton.server import TritonProcess, TritonStartError, local_triton
from rare.engines import available
from rare.images import read_image
from rare.modelspec import ModelSpec
from rare.preprocess import preprocess_batch
from tests.conftest import val_crops

pytestmark = pytest.mark.integration

MODEL = "rare"
CONCURRENT = 32


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    """32 real IIIT5K crops, preprocessed as the gateway will: float32 [32, 3, 32, 100]."""
    return preprocess_batch([read_image(path) for path, _ in val_crops("IIIT5K", CONCURRENT)])


@pytest.fixture(scope="module")
def reference(calib_model_dir: Path, crops: np.ndarray) -> dict[str, np.ndarray]:
    """ONNX Runtime in-process on the same crops."""
    session = ort.InferenceSession(str(calib_model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    ids, scores = session.run(["ids", "scores"], {"images": crops})
    return {"ids": ids, "scores": scores}


@pytest.fixture(scope="module")
def client(triton_server: TritonProcess) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(triton_server.grpc_url)


def images_input(batch: np.ndarray, name: str = "images", datatype: str = "FP32") -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(batch.shape), datatype)
    tensor.set_data_from_numpy(batch)
    return tensor


def counts(client: grpcclient.InferenceServerClient) -> tuple[int, int]:
    """(inference_count, execution_count) from Triton's own statistics."""
    stats = client.get_inference_statistics(model_name=MODEL).model_stats[0]
    return stats.inference_count, stats.execution_count


def metric(url: str, name: str) -> float:
    """The value of ``name{model="rare",...}`` on the Prometheus metrics endpoint."""
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + "{") and f'model="{MODEL}"' in line:
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} for model {MODEL!r} not in {url}")


def test_model_is_ready_and_publishes_its_spec(client: grpcclient.InferenceServerClient, calib_model_dir: Path) -> None:
    assert client.is_server_ready() and client.is_model_ready(MODEL)
    config = client.get_model_config(MODEL).config
    assert config.max_batch_size == 32 and config.backend == "python"
    assert spec_from_config(config) == ModelSpec.load(calib_model_dir)


def test_same_ids_and_scores_as_onnxruntime(
    client: grpcclient.InferenceServerClient, crops: np.ndarray, reference: dict[str, np.ndarray]
) -> None:
    result = client.infer(MODEL, [images_input(crops[:8])])
    assert (result.as_numpy("ids") == reference["ids"][:8]).all()
    np.testing.assert_allclose(result.as_numpy("scores"), reference["scores"][:8], rtol=0, atol=1e-5)
    assert result.as_numpy("probs").shape == (8, 25, 38)


async def infer_one_by_one(url: str, crops: np.ndarray) -> list[dict[str, np.ndarray]]:
    """One single-image request per crop, all in flight at once; only ids and scores are asked for."""
    async with grpcaio.InferenceServerClient(url) as client:
        outputs = [grpcaio.InferRequestedOutput("ids"), grpcaio.InferRequestedOutput("scores")]
        calls = [client.infer(MODEL, [images_input(crops[i : i + 1])], outputs=outputs) for i in range(len(crops))]
        results = await asyncio.gather(*calls)
    for result in results:
        assert result.as_numpy("probs") is None  # not requested, not sent
    return [{"ids": r.as_numpy("ids")[0], "scores": r.as_numpy("scores")[0]} for r in results]


def test_concurrent_requests_are_merged_by_the_dynamic_batcher(
    triton_server: TritonProcess,
    client: grpcclient.InferenceServerClient,
    crops: np.ndarray,
    reference: dict[str, np.ndarray],
) -> None:
    inferences, executions = counts(client)
    answers = asyncio.run(infer_one_by_one(triton_server.grpc_url, crops))
    deadline = time.monotonic() + 10
    while (after := counts(client))[0] < inferences + CONCURRENT:  # statistics lag the responses a little
        assert time.monotonic() < deadline, f"statistics stuck at {after} (before: {inferences}, {executions})"
        time.sleep(0.1)
    inferences_after, executions_after = after
    for row, answer in enumerate(answers):  # each request got its own image's result back
        assert (answer["ids"] == reference["ids"][row]).all()
        np.testing.assert_allclose(answer["scores"], reference["scores"][row], rtol=0, atol=1e-5)
    assert inferences_after - inferences == CONCURRENT
    assert executions_after - executions < CONCURRENT  # several requests per model execution


def test_inference_metrics_move(
    triton_server: TritonProcess, client: grpcclient.InferenceServerClient, crops: np.ndarray
) -> None:
    names = ("nv_inference_count", "nv_inference_exec_count", "nv_inference_request_success")
    before = {name: metric(triton_server.metrics_url, name) for name in names}
    client.infer(MODEL, [images_input(crops[:4])])
    deadline = time.monotonic() + 10
    while True:  # the metrics endpoint is updated shortly after the response is sent
        after = {name: metric(triton_server.metrics_url, name) for name in names}
        if all(after[name] > before[name] for name in names):
            break
        assert time.monotonic() < deadline, f"metrics did not move: {after}"
        time.sleep(0.2)
    assert after["nv_inference_count"] - before["nv_inference_count"] == 4
    assert after["nv_inference_exec_count"] - before["nv_inference_exec_count"] == 1
    assert after["nv_inference_request_success"] - before["nv_inference_request_success"] == 1


@pytest.mark.parametrize(
    ("batch", "datatype"),
    [
        (np.zeros((1, 3, 32, 99), np.float32), "FP32"),  # wrong width
        (np.zeros((1, 32, 100), np.float32), "FP32"),  # no channel axis
        (np.zeros((33, 3, 32, 100), np.float32), "FP32"),  # more than max_batch_size
        (np.zeros((1, 3, 32, 100), np.float16), "FP16"),  # wrong dtype
    ],
)
def test_bad_input_is_an_error_and_the_server_keeps_serving(
    client: grpcclient.InferenceServerClient, crops: np.ndarray, batch: np.ndarray, datatype: str
) -> None:
    with pytest.raises(InferenceServerException) as error:
        client.infer(MODEL, [images_input(batch, datatype=datatype)])
    assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert client.is_model_ready(MODEL)
    assert client.infer(MODEL, [images_input(crops[:1])]).as_numpy("ids").shape == (1, 25)


def test_kill_and_restart(python_repository: Path) -> None:
    with local_triton(python_repository, timeout=180) as server:
        server.kill()
        assert not server.running and not server.is_ready()
        server.restart(timeout=180)
        assert grpcclient.InferenceServerClient(server.grpc_url).is_model_ready(MODEL)


def test_a_broken_repository_fails_with_the_server_log(tmp_path: Path) -> None:
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "config.pbtxt").write_text('backend: "python"\nmax_batch_size: "one"\n')
    with pytest.raises(TritonStartError) as error, local_triton(tmp_path, timeout=60):
        pass
    message = str(error.value)
    assert "exited with code 1 before ready" in message and "tritonserver log" in message
    assert "failed to load all models" in message and "broken" in message


@pytest.mark.skipif(not available("openvino-bf16"), reason="needs OpenVINO and a CPU with BF16 instructions")
def test_the_python_target_serves_openvino_bf16_and_reads_as_onnx_runtime(tmp_path: Path) -> None:
    """The shipped model, gated for OpenVINO BF16, on a real Triton whose Python-backend model runs OpenVINO."""
    shipped = Path(__file__).resolve().parents[2] / "models" / "rare_mv3_en"
    options = ServingOptions(name=MODEL, max_batch_size=32, engine="openvino-bf16")
    write_repository(shipped, tmp_path / "repository", "python", options)
    batch = preprocess_batch([read_image(path) for path, _ in val_crops("IIIT5K", 16)], resize="area")
    session = ort.InferenceSession(str(shipped / "model.onnx"), providers=["CPUExecutionProvider"])
    reference_ids, reference_scores = session.run(["ids", "scores"], {"images": batch})
    codec = ModelSpec.load(shipped).codec()
    with local_triton(tmp_path / "repository", timeout=180) as server:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        outputs = [grpcclient.InferRequestedOutput(n) for n in ("ids", "scores")]
        result = client.infer(MODEL, [images_input(batch)], outputs=outputs)
    served = codec.decode_ids(result.as_numpy("ids"), result.as_numpy("scores"))
    reference = codec.decode_ids(reference_ids, reference_scores)
    # BF16 is gated to lose no accuracy on real_val, not to agree on every crop: one of these 16 may read otherwise
    assert sum(a.text != b.text for a, b in zip(served, reference, strict=True)) <= 1
