"""Tables, targets and plots of benchmarks.gateway_load."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Target, dict_table, layout, markdown_table, ratio, shown, targets_table, write_results
from benchmarks.plots import save_panels
from rare.onnx_runtime import usable_cores

OVERHEAD_TARGET = 0.85  # gateway crops/s over bare backend crops/s at concurrency 16
TAIL_TARGET = 2.0  # p99 <= 2x p50
GAIN_TARGET = 4.0  # crops/s at concurrency 32 over concurrency 1, one crop per request, Triton path
AT_CONCURRENCY = 16
BUSY_CORES = 0.85  # above this share of the cores busy, a cell is CPU-bound
CPU_KEYS = ("cpu_ms_per_crop", "gateway_cpu_ms_per_crop", "bare_cpu_ms_per_crop")
COLUMNS: list[tuple[str, str | Callable[[dict[str, Any]], object]]] = [
    ("crops/req", "crops"),
    ("concurrency", "concurrency"),
    ("s", "seconds"),
    ("gateway crops/s", "crops_per_s"),
    ("bare crops/s", "bare_crops_per_s"),
    ("gateway/bare", "ratio"),
    ("p50 ms", "p50_ms"),
    ("p95 ms", "p95_ms"),
    ("p99 ms", "p99_ms"),
    ("p99/p50", lambda r: ratio(r["p99_ms"], r["p50_ms"])),
    ("requests", "requests"),
    ("errors", "errors"),
    ("peak RSS MiB", "peak_rss_mib"),
    ("crops/backend call", lambda r: r.get("mean_batch", float("nan"))),
    ("core-ms/crop", lambda r: r.get("cpu_ms_per_crop", float("nan"))),
    ("gateway process core-ms/crop", lambda r: r.get("gateway_cpu_ms_per_crop", float("nan"))),
    ("event loop core-ms/crop", lambda r: r.get("loop_cpu_ms_per_crop", float("nan"))),
    ("bare core-ms/crop", lambda r: r.get("bare_cpu_ms_per_crop", float("nan"))),
]


def cell(rows: list[dict[str, Any]], crops: int, concurrency: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["crops"] == crops and r["concurrency"] == concurrency), None)


def overhead_targets(rows: list[dict[str, Any]], crops: list[int], backend: str) -> list[Target]:
    goal = f">= {OVERHEAD_TARGET:.0%} of bare backend crops/s, p99 <= {TAIL_TARGET:g}x p50"
    targets = []
    for k in crops:
        name = f"gateway vs bare backend, concurrency {AT_CONCURRENCY}, {k} crop(s)/request"
        r = cell(rows, k, AT_CONCURRENCY)
        if r is None or math.isnan(r["ratio"]):
            targets.append(Target(name, goal, "—", None))
            continue
        tail = ratio(r["p99_ms"], r["p50_ms"])
        met = r["ratio"] >= OVERHEAD_TARGET and tail <= TAIL_TARGET and r["errors"] == 0
        measured = f"{r['ratio']:.0%} of bare, p99/p50 {tail:.2f}, {r['errors']} errors"
        targets.append(Target(name, goal, measured, met, "" if met else overhead_bound(r, backend)))
    return targets


def overhead_bound(r: dict[str, Any], backend: str) -> str:
    """What the gateway path costs in CPU against the bare backend, both measured in the cell (/proc): when the
    cores are the limit, the rates stand in the inverse ratio of the CPU each spends per crop."""
    total, gateway, bare = (r.get(k, float("nan")) for k in CPU_KEYS)
    if math.isnan(total) or math.isnan(bare):
        return "CPU per crop not measured"
    busy = total * r["crops_per_s"] / 1000 / usable_cores()
    rest = (
        "inference included; the load generator the rest"
        if backend == "onnxruntime"
        else "Triton and the load generator the rest"
    )
    cost = (
        f"CPU: the gateway path spends {total:.2f} core-ms per crop on this machine (the gateway process "
        f"{gateway:.2f} of it, {rest}), the bare backend {bare:.2f}"
    )
    loop = r.get("loop_cpu_ms_per_crop", float("nan"))
    if not math.isnan(loop):
        cost += f"; its event loop thread alone (HTTP, multipart, decoding, preprocessing, JSON) {loop:.2f}"
    if busy >= BUSY_CORES:
        cap = f"; with the cores {busy:.0%} busy, that caps the gateway at about {bare / total:.0%} of bare"
        return cost + cap + loop_bound(loop, bare)
    return cost + (
        f"; the cores were only {busy:.0%} busy, so the serial steps of each request (HTTP, decoding, a backend "
        "round trip) bound it as well as the CPU does"
    )


def loop_bound(loop: float, bare: float) -> str:
    """On busy cores, the cap that the part of the gateway's cost no backend can remove sets alone: its event loop
    thread (HTTP, multipart, image decoding, preprocessing, JSON). Even with inference as cheap per crop as in the
    bare run, the rates could stand at most as ``bare / (bare + loop)``."""
    if math.isnan(loop):
        return ""
    return (
        f", and its event loop alone at {bare / (bare + loop):.0%} with inference as cheap per crop as in the bare run"
    )


def gain_target(rows: list[dict[str, Any]], backend: str) -> Target:
    low, high = cell(rows, 1, 1), cell(rows, 1, 32)
    name = "dynamic batching gain, gateway -> " + (
        "Triton" if backend == "triton" else "embedded (Triton is the target)"
    )
    goal = f">= {GAIN_TARGET:g}x crops/s at concurrency 32 vs 1, 1 crop/request"
    if low is None or high is None:
        return Target(name, goal, "—", None)
    gain = ratio(high["crops_per_s"], low["crops_per_s"])
    return Target(name, goal, f"{gain:.2f}x", gain >= GAIN_TARGET if backend == "triton" else None)


def memory_table(rows: list[dict[str, Any]], crops: list[int], concurrency: list[int], baseline: float) -> str:
    """Peak VmRSS (MiB) per cell, and its growth over the RSS before the load."""
    table = markdown_table(
        ["crops/request", *[f"c={c}" for c in concurrency]],
        [(k, *[(r["peak_rss_mib"] if (r := cell(rows, k, c)) else float("nan")) for c in concurrency]) for k in crops],
    )
    peak = max((r["peak_rss_mib"] for r in rows if not math.isnan(r["peak_rss_mib"])), default=float("nan"))
    return (
        f"Gateway VmRSS before the load: {baseline:.0f} MiB; peak under load: {peak:.0f} MiB "
        f"(+{peak - baseline:.0f} MiB). Peak MiB per cell (sampled every 50 ms):\n\n{table}"
    )


def plot(out: Path, name: str, rows: list[dict[str, Any]], crops: list[int]) -> Path:
    def series(key: str, bare: bool = False) -> dict[str, tuple[list[float], list[float]]]:
        result = {}
        for k in crops:
            cells = [r for r in rows if r["crops"] == k]
            result[f"gateway, {k}/req"] = ([r["concurrency"] for r in cells], [r[key] for r in cells])
            if bare:
                result[f"bare, {k}/req"] = ([r["concurrency"] for r in cells], [r["bare_crops_per_s"] for r in cells])
        return result

    panels = [
        ("crops/s", series("crops_per_s", bare=True)),
        ("p99 latency (ms)", series("p99_ms")),
        ("peak gateway VmRSS (MiB)", series("peak_rss_mib")),
    ]
    return save_panels(out / f"{name}.png", f"Gateway end to end ({name})", "concurrency", panels, log_y=(False, True))


def write_report(args: Any, facts: dict[str, Any], rows: list[dict[str, Any]], baseline: float, served: str) -> Path:
    name = f"gateway_load_{args.backend}"
    targets = [*overhead_targets(rows, args.crops, args.backend), gain_target(rows, args.backend)]
    table = dict_table(rows, COLUMNS)
    triton = f", Triton max_queue_delay {args.delay_us} us" if args.backend == "triton" else ""
    image = plot(args.out, name, rows, args.crops)
    instances, threads = layout(args)
    sections = [
        f"Model: `{shown(args.model_dir)}`; backend {args.backend}{triton}, served on `{served}`; {instances} "
        f"instance(s) x {threads} thread(s) (gateway and bare backend alike); load generator {args.client} (closed "
        "loop, same "
        "machine: it shares the CPU with the gateway); "
        f"{args.seconds:g} s per cell, slow cells longer (about 10 latencies, at most {args.max_cell_seconds:g} s: "
        "column s); real crops (multipart, field `images`). Bare backend: the same preprocessed crops, same "
        "concurrency, crops per call and duration, without HTTP/decoding/preprocessing/JSON (OnnxRecognizer behind "
        "the gateway's MicroBatcher in-process, on the same engines, or the gRPC aio client to Triton). Column "
        "crops/backend call: the embedded backend's mean micro-batch (its rare_inference_batch_size histogram). "
        "Columns core-ms/crop: the CPU the whole machine spent per crop served during the cell (/proc/stat: gateway, "
        "load generator and backend together), the gateway process's share of it (/proc/PID/stat), its event "
        "loop thread's share (its main thread, /proc/PID/task/PID/stat: all the gateway does but inference), and "
        "the same machine-wide figure for the bare backend's run of the cell.",
        "## Targets\n\n" + targets_table(targets),
        "## Throughput and latency\n\n" + table,
        "## Memory\n\n" + memory_table(rows, args.crops, args.concurrency, baseline),
        f"![gateway]({image.name})",
    ]
    data = {"machine": facts, "backend": args.backend, "served": served, "client": args.client, "rows": rows}
    data |= {"baseline_rss_mib": baseline, "targets": [t.__dict__ for t in targets]}
    return write_results(args.out, name, f"Gateway end to end over HTTP ({args.backend})", sections, data)
