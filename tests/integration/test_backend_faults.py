"""Backend faults against a real tritonserver: not up, killed under load, too slow, queue full, wrong model."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from build_engine.repository import write_repository
from build_engine.triton_config import ServingOptions
from local_triton.server import Ports, TritonProcess, free_ports
from tests.conftest import val_crops
from tests.service.conftest import Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.integration

MODEL = "rare"
WORD = val_crops("IIIT5K", 1)[0][0]


def one_crop() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images", (WORD.name, WORD.read_bytes(), "image/jpeg"))]


def wait_until(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.25)


def ready(gateway: Gateway) -> bool:
    return httpx.get(gateway.url + "/readyz", timeout=10).status_code == 200


def assert_retryable(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert int(response.headers["retry-after"]) >= 1


@pytest.fixture()
def server(python_repository: Path, tmp_path: Path) -> Iterator[TritonProcess]:
    """A tritonserver on reserved ports, not started: each test starts, kills and restarts it."""
    grpc, http, metrics = free_ports(3)
    process = TritonProcess(python_repository, Ports(grpc, http, metrics), tmp_path, tmp_path / "triton.log")
    yield process
    process.kill()


def gateway_on(server: TritonProcess, tmp_path: Path, **env: str) -> Gateway:
    settings = {"RARE_TRITON_URL": server.grpc_url, "RARE_TRITON_MODEL": MODEL, "RARE_RETRY_AFTER_S": "2"}
    return start_gateway({**settings, **env}, tmp_path / "gateway.log")


def kill_and_restart_under_load(server: TritonProcess, gateway: Gateway) -> tuple[list[tuple[int, float]], list[int]]:
    """Four clients post crops while Triton is killed and restarted: every (status, seconds), and the last codes
    seen while it was down."""
    outcomes: list[tuple[int, float]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            while not stop.is_set():
                start = time.monotonic()
                response = client.post("/recognize", files=one_crop())
                outcomes.append((response.status_code, time.monotonic() - start))
                if response.status_code == 503:
                    assert response.headers["retry-after"] == "2"

    with ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(load) for _ in range(4)]
        time.sleep(2)
        server.kill()
        time.sleep(3)
        down = [code for code, _ in outcomes[-8:]]
        server.start()
        server.wait_ready(180)
        wait_until(lambda: outcomes[-1][0] == 200, what="200s again after the restart")
        stop.set()
        for worker in workers:
            worker.result()
    return outcomes, down


def test_triton_down_at_start_then_up_then_killed_under_load(server: TritonProcess, tmp_path: Path) -> None:
    gateway = gateway_on(server, tmp_path)
    try:
        not_ready = httpx.get(gateway.url + "/readyz")
        assert not_ready.status_code == 503 and server.grpc_url not in not_ready.text  # the address stays inside
        assert server.grpc_url in gateway.wait_for_log(server.grpc_url)
        assert_retryable(httpx.post(gateway.url + "/recognize", files=one_crop()), 503, "backend_unavailable")

        server.start()
        server.wait_ready(180)
        wait_until(lambda: ready(gateway), what="gateway ready once Triton is up")  # no gateway restart
        assert httpx.post(gateway.url + "/recognize", files=one_crop()).status_code == 200

        outcomes, down = kill_and_restart_under_load(server, gateway)
        assert {code for code, _ in outcomes} <= {200, 503}
        assert 503 in down  # failed fast while Triton was gone ...
        assert max(seconds for code, seconds in outcomes if code == 503) < 5  # ... not after a long hang
        assert gateway.process.poll() is None and ready(gateway)
    finally:
        stop_gateway(gateway)


def test_slow_backend_is_a_504(server: TritonProcess, tmp_path: Path) -> None:
    server.start()
    server.wait_ready(180)
    gateway = gateway_on(server, tmp_path, RARE_TRITON_TIMEOUT_S="0.001")
    try:
        wait_until(lambda: ready(gateway), what="gateway ready")
        response = httpx.post(gateway.url + "/recognize", files=one_crop())
        assert response.status_code == 504 and response.json()["error"]["code"] == "backend_timeout"
        assert ready(gateway)  # a slow call does not make the backend unready
    finally:
        stop_gateway(gateway)


@contextmanager
def triton_then_gateway(repository: Path, tmp_path: Path) -> Iterator[Gateway]:
    """A ready tritonserver on ``repository`` and a gateway pointed at it; both stopped on exit."""
    grpc, http, metrics = free_ports(3)
    server = TritonProcess(repository, Ports(grpc, http, metrics), tmp_path, tmp_path / "triton.log")
    server.start()
    try:
        server.wait_ready(180)
        gateway = gateway_on(server, tmp_path)
        try:
            yield gateway
        finally:
            stop_gateway(gateway)
    finally:
        server.kill()


def test_full_triton_queue_is_a_429(calib_model_dir: Path, tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    options = ServingOptions(name=MODEL, max_batch_size=1, max_queue_delay_us=0, max_queue_size=1)
    write_repository(calib_model_dir, repository, "python", options)
    with triton_then_gateway(repository, tmp_path) as gateway:
        wait_until(lambda: ready(gateway), what="gateway ready")
        sixteen = one_crop() * 16  # one request, 16 chunks of 1 sent at once to a queue of 1
        with ThreadPoolExecutor(8) as pool:
            responses = list(
                pool.map(lambda _: httpx.post(gateway.url + "/recognize", files=sixteen, timeout=60), range(8))
            )
        rejected = [r for r in responses if r.status_code == 429]
        assert rejected and {r.status_code for r in responses} <= {200, 429}
        assert_retryable(rejected[0], 429, "overloaded")
        wait_until(  # and it keeps serving once the burst is over
            lambda: httpx.post(gateway.url + "/recognize", files=one_crop()).status_code == 200, 30, "a 200"
        )


def test_a_model_the_gateway_cannot_decode_is_never_ready(python_repository: Path, tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    shutil.copytree(python_repository, repository)
    config_path = repository / MODEL / "config.pbtxt"
    config = text_format.Parse(config_path.read_text(), model_config_pb2.ModelConfig())
    spec = json.loads(config.parameters["rare_spec"].string_value)
    spec["image_shape"] = [3, 48, 160]  # the graph takes 3x32x100: the gateway would send the wrong tensors
    config.parameters["rare_spec"].string_value = json.dumps(spec)
    config_path.write_text(text_format.MessageToString(config))
    with triton_then_gateway(repository, tmp_path) as gateway:
        response = httpx.get(gateway.url + "/readyz")
        assert response.status_code == 503 and "model mismatch" in gateway.wait_for_log("model mismatch")
        assert_retryable(httpx.post(gateway.url + "/recognize", files=one_crop()), 503, "backend_unavailable")
