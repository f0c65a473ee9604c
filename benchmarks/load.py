"""Closed-loop HTTP load on ``POST /recognize`` (wrk, or httpx when wrk is missing) and RSS sampling.

``wrk`` (Debian package, requirements/apt.txt) is the default: a C event loop that costs the shared CPU far less
than a Python client, so the gateway is measured rather than the load generator. Every request sends the same
prebuilt multipart body (``--crops`` real crops in field ``images``). A request is an error when it fails on the
socket, times out, or answers a status of 400 or more.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

WRK_SCRIPT = """
local file = io.open(os.getenv("RARE_WRK_BODY"), "rb")
wrk.method = "POST"
wrk.body = file:read("*all")
file:close()
wrk.headers["Content-Type"] = os.getenv("RARE_WRK_CONTENT_TYPE")

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RARE_WRK {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    crops_per_request: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def crops_per_s(self) -> float:
        """Crops of successful requests per second."""
        return (self.requests - self.errors) * self.crops_per_request / self.seconds if self.seconds else 0.0


def multipart_body(files: Sequence[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with every file in field ``images``; returns (body, content type)."""
    boundary = f"rarebench{uuid.uuid4().hex}"
    parts = []
    for name, data in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="images"; filename="{name}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, body: bytes, content_type: str, crops: int, concurrency: int, seconds: float) -> LoadResult:
    """``wrk`` with one thread and ``concurrency`` connections for ``seconds`` (whole seconds, at least 1)."""
    with tempfile.TemporaryDirectory(prefix="rare_wrk_") as tmp:
        (Path(tmp) / "body").write_bytes(body)
        (Path(tmp) / "post.lua").write_text(WRK_SCRIPT)
        env = {**os.environ, "RARE_WRK_BODY": str(Path(tmp) / "body"), "RARE_WRK_CONTENT_TYPE": content_type}
        duration = max(1, round(seconds))
        command = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "-s",
            str(Path(tmp) / "post.lua"),
            url,
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=duration + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RARE_WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout[-1000:]} {result.stderr[-1000:]}")
    data = json.loads(line.removeprefix("RARE_WRK "))
    return LoadResult(
        data["requests"],
        data["errors"],
        data["duration_us"] / 1e6,
        crops,
        data["p50_us"] / 1000,
        data["p95_us"] / 1000,
        data["p99_us"] / 1000,
    )


async def closed_loop(
    call: Callable[[], Awaitable[object]], concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    """``concurrency`` workers each awaiting ``call`` back to back for ``seconds``; latencies, errors, wall time."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            begin = time.perf_counter()
            try:
                await call()
            except Exception:  # noqa: BLE001 - a failed call is counted, the load goes on
                errors += 1
            latencies.append(time.perf_counter() - begin)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


async def _httpx_load(
    url: str, body: bytes, content_type: str, concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def call() -> None:
            response = await client.post(url, content=body, headers={"Content-Type": content_type})
            response.raise_for_status()  # a 4xx/5xx counts as an error

        return await closed_loop(call, concurrency, seconds)


def run_httpx(url: str, body: bytes, content_type: str, crops: int, concurrency: int, seconds: float) -> LoadResult:
    """The same load from Python (httpx, asyncio): portable, but it shares the CPU with the gateway."""
    latencies, errors, wall = asyncio.run(_httpx_load(url, body, content_type, concurrency, seconds))
    return result_from_latencies(latencies, errors, wall, crops)


def result_from_latencies(latencies: Sequence[float], errors: int, wall: float, crops: int) -> LoadResult:
    ms = np.asarray(latencies) * 1000 if latencies else np.asarray([float("nan")])
    p50, p95, p99 = (float(np.percentile(ms, q)) for q in (50, 95, 99))
    return LoadResult(len(latencies), errors, wall, crops, p50, p95, p99)


class RssSampler:
    """Samples ``VmRSS`` of one process from /proc every ``interval`` seconds on a thread; ``peak_mib`` after stop."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []  # kB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def rss_kib(self) -> int | None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), None)
        return int(line.split()[1]) if line else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            if (value := self.rss_kib()) is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return max(self.samples) / 1024 if self.samples else float("nan")


_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


CGROUP_CPU_STAT = Path("/sys/fs/cgroup/cpu.stat")  # cgroup v2: usage_usec, the CPU this container has used


def machine_busy_s(cgroup_stat: Path = CGROUP_CPU_STAT) -> float:
    """CPU seconds used so far by this container (its cgroup v2 ``cpu.stat``), or, outside a cgroup, by every core
    of the machine together (/proc/stat: all but idle and iowait): in a container, /proc/stat counts other tenants."""
    if cgroup_stat.is_file():
        usage = next(
            (ln.split()[1] for ln in cgroup_stat.read_text().splitlines() if ln.startswith("usage_usec")), None
        )
        if usage is not None:
            return int(usage) / 1e6
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) * _TICK_S


def process_cpu_s(pid: int, thread: int | None = None) -> float:
    """CPU seconds of one process, all its threads (/proc/PID/stat utime + stime), or of one of its threads
    (/proc/PID/task/TID/stat); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}" + (f"/task/{thread}" if thread is not None else "") + "/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3, utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) * _TICK_S


class CpuMeter:
    """CPU spent while the block runs: by the whole machine (``busy_s``), by one process (``process_s``) and by
    that process's main thread (``main_s``: a uvicorn worker's event loop)."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self.busy_s = self.process_s = self.main_s = 0.0

    def __enter__(self) -> CpuMeter:
        self._busy, self._process, self._main = machine_busy_s(), *self._process_now()
        return self

    def __exit__(self, *exc: object) -> None:
        process, main = self._process_now()
        self.busy_s = machine_busy_s() - self._busy
        self.process_s, self.main_s = process - self._process, main - self._main

    def _process_now(self) -> tuple[float, float]:
        return (process_cpu_s(self.pid), process_cpu_s(self.pid, self.pid)) if self.pid else (0.0, 0.0)

    def main_ms_per(self, count: float) -> float:
        """Core-milliseconds of the process's main thread per item."""
        return 1000 * self.main_s / count if count > 0 else float("nan")

    def ms_per(self, count: float) -> tuple[float, float]:
        """Core-milliseconds per item (``count`` items served in the block): the machine's, the process's."""
        if count <= 0:
            return float("nan"), float("nan")
        return 1000 * self.busy_s / count, 1000 * self.process_s / count
