"""Versioned rollouts on a real Triton (poll mode): version 2 is built beside 1 and takes the traffic, then a rollback
to 1, under load, with no failed request; every answer names the version that gave it."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from build_engine.repository import write_repository
from build_engine.triton_config import ServingOptions
from build_engine.versions import serve_versions
from local_triton.server import TritonProcess, local_triton
from tests.conftest import val_crops
from tests.service.conftest import start_gateway, stop_gateway

pytestmark = pytest.mark.integration
OPTIONS = ServingOptions(name="rare", max_batch_size=32, instances=1)


def with_version(model_dir: Path, version: str, out: Path) -> Path:
    """A copy of an exported model whose rare.json says ``version``."""
    shutil.copytree(model_dir, out)
    spec = json.loads((out / "rare.json").read_text())
    (out / "rare.json").write_text(json.dumps({**spec, "model_version": version}))
    return out


@pytest.fixture()
def polling(calib_model_dir: Path, tmp_path: Path) -> Iterator[tuple[Path, TritonProcess]]:
    repository = tmp_path / "repository"
    write_repository(calib_model_dir, repository, "python", OPTIONS)
    args = ["--model-control-mode=poll", "--repository-poll-secs=1"]
    with local_triton(repository, timeout=180, extra_args=args) as server:
        yield repository, server


def test_roll_out_version_2_then_back_to_1_under_load(polling, calib_model_dir: Path, tmp_path: Path) -> None:
    repository, server = polling
    gateway = start_gateway({"RARE_TRITON_URL": server.grpc_url}, tmp_path / "gateway.log", "/readyz")
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()
    crop = [("images", (p.name, p.read_bytes(), "image/png")) for p, _ in val_crops("IIIT5K", 1)]

    def load() -> None:
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            while not stop.is_set():
                response = client.post("/recognize", files=crop)
                version = response.json()["model"]["version"] if response.status_code == 200 else None
                answers.append((response.status_code, version))

    def wait_for(version: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not (answers and answers[-1][1] == version):
            assert time.monotonic() < deadline, f"version {version} never answered"
            time.sleep(0.2)

    try:
        with ThreadPoolExecutor(3) as pool:
            workers = [pool.submit(load) for _ in range(3)]
            wait_for("1")
            write_repository(with_version(calib_model_dir, "2", tmp_path / "v2"), repository, "python", OPTIONS)
            assert sorted(p.name for p in (repository / "rare").iterdir() if p.is_dir()) == ["1", "2"]
            wait_for("2")  # the rollout: built beside 1, loaded by Triton, traffic moved
            assert serve_versions(repository, "rare", "1") == [1, 2]
            wait_for("1")  # the rollback
            stop.set()
            for worker in workers:
                worker.result()
    finally:
        stop.set()
        stop_gateway(gateway)
    assert {status for status, _ in answers} == {200}, sorted({status for status, _ in answers})
    assert {version for _, version in answers} == {"1", "2"}
