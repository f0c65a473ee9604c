"""Latency at fixed arrival rates (open loop): what an operator plans with, as wrk's closed loop cannot show.

A closed loop (wrk) sends the next request only when one returns, so a slow server slows the clients and their
latency percentiles hide the queue (coordinated omission). Here requests leave at scheduled times, Poisson
arrivals at a fixed rate, whatever the server does; each latency runs from the scheduled time, so time spent
waiting for a free connection counts too. Rates: 25, 50, 75 and 90 % of the capacity measured in the same run
(wrk, concurrency 16, one crop per request).

    python -m benchmarks.open_loop [--backend onnxruntime|triton] [--seconds 5]
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import base_parser, check_model_dir, cpu_facts, load_crops, markdown_table, shown, write_results
from benchmarks.gateway_load import backend
from benchmarks.load import multipart_body, run_wrk
from benchmarks.plots import save_curves
from benchmarks.servers import gateway_process

FRACTIONS = (0.25, 0.5, 0.75, 0.9)
SEED = 7


async def _request(pool: asyncio.LifoQueue, address: tuple[str, int], payload: bytes) -> bool:
    """One request on an idle keep-alive connection (or a new one); True on a 200."""
    try:
        reader, writer = pool.get_nowait()
    except asyncio.QueueEmpty:
        reader, writer = await asyncio.open_connection(*address)
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)
    pool.put_nowait((reader, writer))
    return head.startswith(b"HTTP/1.1 200")


async def open_loop(address: tuple[str, int], payload: bytes, rate: float, seconds: float) -> dict[str, float]:
    """Poisson arrivals at ``rate`` per second for ``seconds``: latency percentiles from the scheduled times."""
    pool: asyncio.LifoQueue = asyncio.LifoQueue()
    rng, loop = random.Random(SEED), asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0

    async def timed(scheduled: float) -> None:
        nonlocal errors
        try:
            ok = await _request(pool, address, payload)
        except (OSError, asyncio.IncompleteReadError, StopIteration):
            ok = False
        errors += not ok
        latencies.append(loop.time() - scheduled)

    start, due, tasks = loop.time() + 0.1, 0.0, []
    while due < seconds:
        await asyncio.sleep(max(0.0, start + due - loop.time()))
        tasks.append(asyncio.create_task(timed(start + due)))
        due += rng.expovariate(rate)
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait()[1].close()
    ms = np.asarray(latencies) * 1000
    return {
        "sent": len(tasks),
        "errors": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def request_bytes(body: bytes, content_type: str) -> bytes:
    head = f"POST /recognize HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def measure(args: Any) -> tuple[float, list[dict[str, Any]]]:
    """Capacity (closed loop), then each fraction of it in open loop, against one gateway."""
    crop = load_crops(1)[0]
    body, content_type = multipart_body([("crop.png", Path(crop.path).read_bytes())])
    payload = request_bytes(body, content_type)
    with (
        tempfile.TemporaryDirectory(prefix="rare_open_") as tmp,
        backend(args, Path(tmp)) as (env, _),
        gateway_process(env, Path(tmp) / "gateway.log") as gateway,
    ):
        run_wrk(gateway.url + "/recognize", body, content_type, 1, 16, 1)  # warm up
        capacity = run_wrk(gateway.url + "/recognize", body, content_type, 1, 16, args.seconds).crops_per_s
        host, port = gateway.url.removeprefix("http://").split(":")
        rows = []
        for fraction in FRACTIONS:
            stats = asyncio.run(open_loop((host, int(port)), payload, capacity * fraction, args.seconds))
            rows.append({"fraction": fraction, "rate": capacity * fraction, **stats})
            print(
                f"{100 * fraction:.0f} % of {capacity:.0f}/s: p50 {stats['p50_ms']:.1f}, p99 {stats['p99_ms']:.1f} ms"
            )
            time.sleep(0.5)
    return capacity, rows


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=5.0)
    parser.add_argument("--backend", choices=("onnxruntime", "triton"), default="onnxruntime")
    parser.add_argument("--delay-us", type=int, default=2000, help="Triton's max_queue_delay (the chosen one)")
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    facts = cpu_facts()
    capacity, rows = measure(args)
    name = f"open_loop_{args.backend}"
    knee = {
        "p50": ([r["fraction"] for r in rows], [r["p50_ms"] for r in rows]),
        "p99": ([r["fraction"] for r in rows], [r["p99_ms"] for r in rows]),
    }
    plot = save_curves(
        args.out / f"{name}.png", [(f"Open loop, {args.backend}", "offered load / capacity", "latency ms", knee)]
    )
    table = markdown_table(
        ["offered load", "requests/s", "sent", "errors", "p50 ms", "p99 ms"],
        [(f"{100 * r['fraction']:.0f} %", r["rate"], r["sent"], r["errors"], r["p50_ms"], r["p99_ms"]) for r in rows],
    )
    sections = [
        f"Model: `{shown(args.model_dir)}`, backend {args.backend}; one crop per request; capacity {capacity:.0f} "
        f"requests/s (wrk, concurrency 16, {args.seconds:g} s); then Poisson arrivals at each fraction of it for "
        f"{args.seconds:g} s, latency from the scheduled send time (queueing included).",
        table,
        f"![open loop]({plot.name})",
    ]
    write_results(
        args.out,
        name,
        f"Latency at fixed arrival rates ({args.backend})",
        sections,
        {"machine": facts, "capacity": capacity, "rows": rows},
    )


if __name__ == "__main__":
    main()
