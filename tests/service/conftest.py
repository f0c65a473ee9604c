"""A real gateway process (uvicorn on 127.0.0.1) on the calibration export, and helpers to call it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, *needles: str, timeout: float = 10) -> str:
        """The log once every needle is in it (access lines are written just after the response is sent)."""
        deadline = time.monotonic() + timeout
        while not all(n in (text := self.log_text()) for n in needles) and time.monotonic() < deadline:
            time.sleep(0.1)
        return text


def start_gateway(
    env: dict[str, str], log: Path, ready_path: str = "/healthz", timeout: float = 60, port: int | None = None
) -> Gateway:
    port = port or free_port()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "RARE_HOST": "127.0.0.1", "RARE_PORT": str(port), **env}
    handle = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "service"], cwd=REPO, env=full_env, stdout=handle, stderr=subprocess.STDOUT
    )
    gateway = Gateway(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}:\n{gateway.log_text()}")
        try:
            if httpx.get(gateway.url + ready_path, timeout=2).status_code == 200:
                return gateway
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_gateway(gateway)
    raise RuntimeError(f"gateway not up within {timeout} s:\n{gateway.log_text()}")


def stop_gateway(gateway: Gateway) -> None:
    if gateway.process.poll() is None:
        gateway.process.terminate()
        try:
            gateway.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            gateway.process.kill()


@pytest.fixture(scope="session")
def gateway(calib_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The gateway on the embedded backend with small limits, so limit tests stay cheap."""
    env = {
        "RARE_MODEL_DIR": str(calib_model_dir),
        "RARE_MAX_IMAGES": "8",
        "RARE_MAX_IMAGE_BYTES": "200000",
        "RARE_MAX_REQUEST_BYTES": "1000000",
        "RARE_ORT_INSTANCES": "2",  # two single-threaded instances, whatever this machine's core count
        "RARE_ORT_THREADS": "1",
    }
    gw = start_gateway(env, tmp_path_factory.mktemp("gw") / "gateway.log", ready_path="/readyz")
    yield gw
    stop_gateway(gw)
