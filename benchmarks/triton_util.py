"""A local CPU Triton on a fresh Python-backend repository, and Triton's ``perf_analyzer`` to load it.

perf_analyzer is not in the tritonclient wheels of recent releases; the 2.41.0 wheel carries a Linux build of it in
``tritonclient-2.41.0.data/data/bin/``. It links Debian's ``libb64-0d`` (requirements/apt.txt) and
``libcudart.so.12`` (from the ``nvidia-cuda-runtime-cu12`` wheel; nothing uses a GPU). Both wheels are downloaded
with pip into ``.whl/`` (git-ignored) and unpacked there, never installed: the venv keeps tritonclient 2.73.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import REPO
from build_engine.repository import write_repository
from build_engine.triton_config import ServingOptions
from local_triton.server import TritonProcess, local_triton

WHEELS = REPO / ".whl"
PERF_DIR = WHEELS / "perf"
PERF_WHEELS = ("tritonclient==2.41.0", "nvidia-cuda-runtime-cu12==12.9.79")
PERF_BINARY = PERF_DIR / "tritonclient-2.41.0.data" / "data" / "bin" / "perf_analyzer"
CUDART_DIR = PERF_DIR / "nvidia" / "cuda_runtime" / "lib"


@dataclass(frozen=True)
class PerfPoint:
    batch: int
    concurrency: int
    infer_per_s: float  # crops/s: perf_analyzer counts every row of a batch
    p50_ms: float
    p95_ms: float
    p99_ms: float


def ensure_perf_analyzer() -> tuple[Path, dict[str, str]]:
    """The perf_analyzer binary and the environment it runs in (downloaded and unpacked on first use)."""
    if not PERF_BINARY.is_file() or not (CUDART_DIR / "libcudart.so.12").is_file():
        download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(WHEELS), *PERF_WHEELS]
        subprocess.run(download, check=True)
        for wheel in sorted(WHEELS.glob("tritonclient-2.41.0-*.whl")) + sorted(
            WHEELS.glob("nvidia_cuda_runtime_cu12-12.9.79-*.whl")
        ):
            with zipfile.ZipFile(wheel) as archive:
                members = [
                    m
                    for m in archive.namelist()
                    if m.startswith(("tritonclient-2.41.0.data/data/bin/perf_analyzer", "nvidia/cuda_runtime/lib/"))
                ]
                archive.extractall(PERF_DIR, members)
        PERF_BINARY.chmod(0o755)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(CUDART_DIR), env.get("LD_LIBRARY_PATH", "")) if p)
    return PERF_BINARY, env


def perf_analyzer(
    grpc_url: str, model: str, batch: int, concurrency: int, interval_ms: int, csv_path: Path, max_trials: int = 4
) -> PerfPoint:
    """One perf_analyzer measurement (gRPC, random FP32 images: RARE's cost does not depend on the pixels)."""
    binary, env = ensure_perf_analyzer()
    command = [
        str(binary),
        "-i",
        "grpc",
        "-u",
        grpc_url,
        "-m",
        model,
        "-b",
        str(batch),
        f"--concurrency-range={concurrency}:{concurrency}",
        f"--measurement-interval={interval_ms}",
        f"--max-trials={max_trials}",
        "--stability-percentage=100000",
        "-f",
        str(csv_path),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if not csv_path.is_file():
        raise RuntimeError(
            f"perf_analyzer failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    with csv_path.open() as handle:
        row = next(csv.DictReader(handle))
    return PerfPoint(
        batch,
        concurrency,
        float(row["Inferences/Second"]),
        *(float(row[f"p{q} latency"]) / 1000 for q in (50, 95, 99)),
    )


@contextmanager
def python_triton(model_dir: Path, repository: Path, options: ServingOptions) -> Iterator[TritonProcess]:
    """``build_engine --target python`` of ``model_dir`` into ``repository``, served by a local CPU Triton."""
    write_repository(model_dir, repository, "python", options)
    with local_triton(repository, timeout=300) as server:
        yield server
