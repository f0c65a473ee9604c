"""The gateway in front of a real tritonserver: same answers as the embedded backend, metrics, dynamic batching."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import tritonclient.grpc as grpcclient

from local_triton.server import TritonProcess
from tests.conftest import val_crops
from tests.service.conftest import Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.integration

MODEL = "rare"


def real_files(per_folder: int = 8) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart ``images`` parts: the first crops of every real_val folder, as their original bytes."""
    parts = []
    for folder in ("IC15", "IIIT5K", "SVT"):
        for path, _ in val_crops(folder, per_folder):
            parts.append(("images", (f"{folder}/{path.name}", path.read_bytes(), "image/jpeg")))
    return parts


@pytest.fixture(scope="module")
def embedded(calib_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {"RARE_MODEL_DIR": str(calib_model_dir), "RARE_ORT_THREADS": "1"}
    gw = start_gateway(env, tmp_path_factory.mktemp("embedded") / "gateway.log", ready_path="/readyz")
    yield gw
    stop_gateway(gw)


@pytest.fixture(scope="module")
def on_triton(triton_server: TritonProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {"RARE_TRITON_URL": triton_server.grpc_url, "RARE_TRITON_MODEL": MODEL}
    gw = start_gateway(env, tmp_path_factory.mktemp("on_triton") / "gateway.log", ready_path="/readyz")
    yield gw
    stop_gateway(gw)


def scrape(url: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        named = line.startswith((name + "{", name + " "))
        if named and all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_same_texts_as_the_embedded_backend(embedded: Gateway, on_triton: Gateway) -> None:
    parts = real_files()
    local = httpx.post(embedded.url + "/recognize", files=parts, timeout=60)
    remote = httpx.post(on_triton.url + "/recognize", files=parts, timeout=60)
    assert local.status_code == remote.status_code == 200, remote.text
    ours, theirs = local.json()["results"], remote.json()["results"]
    assert len(ours) == len(theirs) == len(parts)
    for a, b in zip(ours, theirs, strict=True):
        assert (a["index"], a["filename"], a["text"]) == (b["index"], b["filename"], b["text"])
        assert b["confidence"] == pytest.approx(a["confidence"], abs=1e-4)
    assert remote.json()["model"]["name"] == local.json()["model"]["name"]


def test_readyz_and_models_describe_the_triton_backend(on_triton: Gateway) -> None:
    ready = httpx.get(on_triton.url + "/readyz").json()
    assert ready["status"] == "ready" and "Triton" in on_triton.log_text()
    (model,) = httpx.get(on_triton.url + "/v1/models").json()["models"]
    assert model["backend"] == "triton" and model["ready"] and model["max_batch_size"] == 32


def test_a_big_request_is_split_over_the_triton_instances(on_triton: Gateway, triton_server: TritonProcess) -> None:
    """The model config has two instances: the gateway sends a 6-crop request as two 3-crop requests at once."""
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    before = client.get_inference_statistics(model_name=MODEL).model_stats[0]
    response = httpx.post(on_triton.url + "/recognize", files=real_files(2), timeout=60)
    assert response.status_code == 200 and len(response.json()["results"]) == 6
    after = client.get_inference_statistics(model_name=MODEL).model_stats[0]
    assert after.inference_stats.success.count - before.inference_stats.success.count == 2
    assert after.inference_count - before.inference_count == 6


def test_concurrent_gateway_requests_are_merged_and_metrics_move(
    on_triton: Gateway, triton_server: TritonProcess
) -> None:
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    before = client.get_inference_statistics(model_name=MODEL).model_stats[0]
    nv_before = scrape(triton_server.metrics_url, "nv_inference_count", model=MODEL)
    ok_before = scrape(
        on_triton.url + "/metrics", "rare_http_request_duration_seconds_count", route="/recognize", status="200"
    )
    one = real_files(1)[:1]
    with ThreadPoolExecutor(16) as pool:
        codes = list(
            pool.map(lambda _: httpx.post(on_triton.url + "/recognize", files=one, timeout=60).status_code, range(48))
        )
    assert codes == [200] * 48
    after = client.get_inference_statistics(model_name=MODEL).model_stats[0]
    inferences = after.inference_count - before.inference_count
    executions = after.execution_count - before.execution_count
    assert inferences == 48 and executions < inferences  # the dynamic batcher merged requests
    assert scrape(triton_server.metrics_url, "nv_inference_count", model=MODEL) - nv_before == 48
    assert (
        scrape(on_triton.url + "/metrics", "rare_http_request_duration_seconds_count", route="/recognize", status="200")
        - ok_before
        == 48
    )
    assert scrape(on_triton.url + "/metrics", "rare_stage_duration_seconds_count", stage="infer") >= 48
