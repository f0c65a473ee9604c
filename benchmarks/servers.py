"""The gateway as a subprocess (``python -m service`` on 127.0.0.1), and the bare backends it is compared with.

"Bare" is the same backend without the gateway: the same preprocessed crops, the same concurrency and crops per
call, no HTTP, multipart, decoding, preprocessing or JSON. For the embedded backend that is OnnxRecognizer behind
the gateway's own MicroBatcher, in this process; for Triton it is the gRPC aio client straight to Triton.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from benchmarks.common import REPO
from benchmarks.load import LoadResult, closed_loop, result_from_latencies
from rare.onnx_runtime import OnnxRecognizer
from service.batcher import MicroBatcher


@dataclass(frozen=True)
class GatewayProcess:
    url: str
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(gateway: GatewayProcess, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"gateway exited with {gateway.process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(gateway.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway not ready within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def gateway_process(env: dict[str, str], log: Path, timeout: float = 120) -> Iterator[GatewayProcess]:
    """``python -m service`` with ``env`` (RARE_*) on a free port, ready (``/readyz`` 200); stopped on exit."""
    port = free_port()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "RARE_HOST": "127.0.0.1", "RARE_PORT": str(port), **env}
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "service"], cwd=REPO, env=full_env, stdout=handle, stderr=subprocess.STDOUT
        )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", process)
    try:
        wait_ready(gateway, log, timeout)
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bare_onnx(
    recognizer: OnnxRecognizer, batch: np.ndarray, concurrency: int, seconds: float, max_batch: int, instances: int
) -> LoadResult:
    """OnnxRecognizer behind the gateway's MicroBatcher (``instances`` at once), ``concurrency`` callers of
    ``len(batch)`` crops."""

    async def run() -> tuple[list[float], int, float]:
        batcher = MicroBatcher(recognizer.infer, max_batch, instances)
        try:
            await batcher.submit(batch)  # warm
            return await closed_loop(lambda: batcher.submit(batch), concurrency, seconds)
        finally:
            batcher.close()

    latencies, errors, wall = asyncio.run(run())
    return result_from_latencies(latencies, errors, wall, len(batch))


def bare_triton(
    grpc_url: str, model: str, input_name: str, batch: np.ndarray, concurrency: int, seconds: float
) -> LoadResult:
    """The gRPC aio client straight to Triton (outputs ids and scores, as the gateway asks)."""
    from tritonclient.grpc import InferInput, InferRequestedOutput
    from tritonclient.grpc.aio import InferenceServerClient

    async def run() -> tuple[list[float], int, float]:
        client = InferenceServerClient(grpc_url)
        image = InferInput(input_name, list(batch.shape), "FP32")
        image.set_data_from_numpy(batch)
        outputs = [InferRequestedOutput("ids"), InferRequestedOutput("scores")]
        try:
            await client.infer(model, [image], outputs=outputs)  # warm
            return await closed_loop(lambda: client.infer(model, [image], outputs=outputs), concurrency, seconds)
        finally:
            await client.close()

    latencies, errors, wall = asyncio.run(run())
    return result_from_latencies(latencies, errors, wall, len(batch))
