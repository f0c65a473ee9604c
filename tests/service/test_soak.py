"""Load on loopback: mixed good and bad requests at concurrency 32, memory and descriptors bounded, graceful drain.

The CI form runs the soak for RARE_SOAK_SECONDS (default 20 s); the long form is the same test, marked slow:

    RARE_SOAK_SECONDS=300 .venv/bin/python -m pytest -m slow tests/service/test_soak.py -s
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import val_crops
from tests.images import png, png_bomb, word_bgr
from tests.service.conftest import Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.integration

CONCURRENCY = 32
RSS_GROWTH_BOUND_MIB = 64  # after warm-up; allocator caches and metric series settle well below this
FD_GROWTH_BOUND = 8


def good_parts(count: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    crops = val_crops("IIIT5K", count)
    return [("images", (path.name, path.read_bytes(), "image/jpeg")) for path, _ in crops]


WORD = png(word_bgr())
BAD_REQUESTS: list[tuple[str, dict]] = [
    ("corrupt crop", {"files": [("images", ("x.png", WORD[: len(WORD) // 2], "image/png"))]}),
    ("bomb", {"files": [("images", ("bomb.png", png_bomb(), "image/png"))]}),
    ("wrong type", {"content": b"hello", "headers": {"content-type": "text/plain"}}),
    ("no images", {"json": {"images": []}}),
    ("bad base64", {"json": {"images": ["***"]}}),
]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Tally:
    good: Counter = field(default_factory=Counter)
    bad: Counter = field(default_factory=Counter)
    rss: list[float] = field(default_factory=list)


async def client_loop(client: httpx.AsyncClient, deadline: float, tally: Tally, rng: random.Random) -> None:
    parts = {n: good_parts(n) for n in (1, 4, 8)}
    while time.monotonic() < deadline:
        if rng.random() < 0.7:
            response = await client.post("/recognize", files=parts[rng.choice((1, 4, 8))])
            tally.good[response.status_code] += 1
        else:
            _, kwargs = rng.choice(BAD_REQUESTS)
            response = await client.post("/recognize", **kwargs)
            tally.bad[response.status_code] += 1


async def soak(gateway: Gateway, seconds: float) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60, limits=limits) as client:

        async def sample() -> None:
            while time.monotonic() < deadline:
                tally.rss.append(rss_mib(gateway.process.pid))
                await asyncio.sleep(0.5)

        loops = [client_loop(client, deadline, tally, random.Random(i)) for i in range(CONCURRENCY)]
        await asyncio.gather(sample(), *loops)
    return tally


@pytest.fixture()
def soak_gateway(calib_model_dir: Path, tmp_path: Path) -> Iterator[Gateway]:
    env = {"RARE_MODEL_DIR": str(calib_model_dir), "RARE_ORT_THREADS": "1"}
    gw = start_gateway(env, tmp_path / "gateway.log", ready_path="/readyz")
    yield gw
    stop_gateway(gw)


def run_soak(gateway: Gateway, seconds: float) -> None:
    asyncio.run(soak(gateway, 3))  # warm-up under the same load: every instance's ORT arena grows to its peak
    fds_before = open_fds(gateway.process.pid)
    tally = asyncio.run(soak(gateway, seconds))
    time.sleep(1)  # let closed keep-alive sockets go
    fds_after = open_fds(gateway.process.pid)
    settled = tally.rss[len(tally.rss) // 4 :]
    print(
        f"\nsoak {seconds:g} s: good {dict(tally.good)} bad {dict(tally.bad)} rss MiB "
        f"{tally.rss[0]:.0f} -> {max(tally.rss):.0f} (settled {settled[0]:.0f} -> {settled[-1]:.0f}), "
        f"fds {fds_before} -> {fds_after}"
    )
    assert set(tally.good) == {200} and sum(tally.good.values()) > CONCURRENCY  # zero 5xx, zero 4xx for good ones
    assert set(tally.bad) <= {200, 400, 415}  # bad crops are per-item errors (200), bad requests 4xx
    assert max(settled) - settled[0] < RSS_GROWTH_BOUND_MIB
    assert fds_after - fds_before <= FD_GROWTH_BOUND
    assert gateway.process.poll() is None
    assert httpx.get(gateway.url + "/readyz").status_code == 200


def test_soak_short(soak_gateway: Gateway) -> None:
    run_soak(soak_gateway, float(os.environ.get("RARE_SOAK_SECONDS", "20")))


@pytest.mark.slow
def test_soak_long(soak_gateway: Gateway) -> None:
    run_soak(soak_gateway, float(os.environ.get("RARE_SOAK_SECONDS", "300")))


def test_sigterm_drains_accepted_requests(soak_gateway: Gateway) -> None:
    """Requests in flight when SIGTERM arrives all complete with 200; only later ones may be refused."""
    outcomes: list[tuple[float, float, str]] = []  # (sent, finished, outcome)
    signalled = threading.Event()
    parts = good_parts(32)  # slow enough that many are in flight at the signal

    def sender() -> None:
        while not signalled.is_set() or time.monotonic() - signal_time[0] < 1:
            sent = time.monotonic()
            try:  # a fresh connection each time: a refused request is a connect error, never a lost one
                response = httpx.post(soak_gateway.url + "/recognize", files=parts, timeout=60)
                outcome = str(response.status_code)
            except httpx.ConnectError:
                outcome = "refused"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            outcomes.append((sent, time.monotonic(), outcome))

    signal_time = [float("inf")]
    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    signal_time[0] = time.monotonic()
    soak_gateway.process.send_signal(signal.SIGTERM)
    signalled.set()
    for thread in threads:
        thread.join(90)
    assert soak_gateway.process.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM once drained
    in_flight = [o for sent, done, o in outcomes if sent < signal_time[0] - 0.2 and done > signal_time[0]]
    assert in_flight and set(in_flight) == {"200"}, Counter(in_flight)
    before = [o for sent, _, o in outcomes if sent < signal_time[0] - 0.2]
    assert set(before) == {"200"}
    assert "shutdown" in soak_gateway.log_text().lower()
