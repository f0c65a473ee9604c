"""Two real Triton replicas (127.0.0.1 and 127.0.0.2, the same ports) behind one gateway: requests are balanced
between them, and a replica killed under load costs no request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from local_triton.server import Ports, TritonProcess, free_ports
from tests.conftest import val_crops
from tests.integration.test_gateway_triton import scrape
from tests.service.conftest import Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.integration
HOSTS = ("127.0.0.1", "127.0.0.2")


@pytest.fixture()
def replicas(python_repository: Path, tmp_path: Path) -> Iterator[list[TritonProcess]]:
    ports = Ports(*free_ports(3))
    servers = [
        TritonProcess(python_repository, ports, tmp_path / host, tmp_path / f"{host}.log", host=host) for host in HOSTS
    ]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(180)
        yield servers
    finally:
        for server in servers:
            server.kill()


def crops() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images", (p.name, p.read_bytes(), "image/png")) for p, _ in val_crops("IIIT5K", 2)]


def test_requests_are_balanced_and_a_lost_replica_costs_nothing(replicas: list[TritonProcess], tmp_path: Path) -> None:
    target = "ipv4:" + ",".join(f"{host}:{replicas[0].ports.grpc}" for host in HOSTS)
    gateway: Gateway = start_gateway({"RARE_TRITON_URL": target}, tmp_path / "gateway.log", "/readyz")
    try:
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            for _ in range(20):
                assert client.post("/recognize", files=crops()).status_code == 200
        served = [scrape(server.metrics_url, "nv_inference_request_success", model="rare") for server in replicas]
        assert all(count >= 5 for count in served), served  # both replicas answered, not one of them

        statuses: list[int] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=gateway.url, timeout=30) as client:
                while not stop.is_set():
                    statuses.append(client.post("/recognize", files=crops()).status_code)

        with ThreadPoolExecutor(4) as pool:
            workers = [pool.submit(load) for _ in range(4)]
            time.sleep(2)
            replicas[1].kill()
            before = len(statuses)
            time.sleep(4)
            stop.set()
            for worker in workers:
                worker.result()
        assert len(statuses) > before + 10  # requests kept being served after the loss
        assert set(statuses) == {200}, sorted(set(statuses))
    finally:
        stop_gateway(gateway)
