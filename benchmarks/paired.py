"""Rates compared within one run: engines alternated round by round at batch 32, so that a slow spell of a shared
machine hits each alike (a sweep times one engine after the other, minutes apart), and the targets read off them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Target, latency_stats, time_parallel

FP32 = "ort-fp32"
EMBEDDED = "ort-fp32 + preprocess + decode"
PADDLE = "paddleocr-export"  # --extra name of PaddleOCR's own ONNX export of the same architecture (make bench)
Run = tuple[Callable[[], Any], int]  # (one call of the whole batch, instances calling it at once)


def paired_rounds(runs: dict[str, Run], batch_size: int, seconds: float, rounds: int) -> dict[str, list[dict]]:
    """Each run's latency statistics (crops/s, percentiles) in each of ``rounds`` rounds, alternated within every
    round."""
    stats: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (call, instances) in runs.items():
            latencies, wall = time_parallel(call, instances, seconds)
            stats[name].append(latency_stats(latencies, batch_size, wall))
    return stats


def rates_of(stats: dict[str, list[dict]]) -> dict[str, list[float]]:
    return {name: [s["items_per_s"] for s in rounds] for name, rounds in stats.items()}


def median_rows(stats: dict[str, list[dict]], batch_size: int, names: list[str]) -> list[dict[str, Any]]:
    """A table row for each named run: the statistics of its median round (by crops/s; of an even number of
    rounds, the faster of the middle two: a row is one real round, with its own latencies, not an average)."""
    rows = []
    for name in names:
        rounds = sorted(stats.get(name, []), key=lambda s: s["items_per_s"])
        if rounds:
            rows.append({"engine": name, "batch": batch_size, **rounds[len(rounds) // 2]})
    return rows


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def paddle_target(paired: dict[str, list[float]]) -> list[Target]:
    """The shipped graph against PaddleOCR's own export of the same architecture, ONNX Runtime, batch 32, same run:
    the medians of the alternated rounds."""
    if not paired.get(FP32) or not paired.get(PADDLE):
        return []
    rate = {name: float(np.median(paired[name])) for name in (FP32, PADDLE)}
    speed = rate[FP32] / rate[PADDLE]
    measured = (
        f"{speed:.2f}x ({rate[FP32]:,.0f} against {rate[PADDLE]:,.0f} crops/s, medians of "
        f"{len(paired[FP32])} alternated rounds)"
    )
    overlap = min(paired[FP32]) <= max(paired[PADDLE]) and min(paired[PADDLE]) <= max(paired[FP32])
    why = (
        ""
        if speed >= 1.0
        else f"rounds: ours {spread(paired[FP32])}, PaddleOCR's {spread(paired[PADDLE])} crops/s"
        + (": the same speed within the machine's round-to-round spread" if overlap else "")
    )
    name = "shipped graph vs PaddleOCR's own export (ONNX Runtime FP32)"
    return [Target(name, ">= 1.0x at batch 32", measured, speed >= 1.0, why)]


def embedded_share(paired: dict[str, list[float]]) -> str:
    """What preprocessing and decoding cost the embedded path, from the model-only rate of the same rounds."""
    if not paired.get(FP32) or not paired.get(EMBEDDED):
        return ""
    model, full = float(np.median(paired[FP32])), float(np.median(paired[EMBEDDED]))
    rounds = (
        f"medians of {len(paired[EMBEDDED])} rounds alternated with the model alone ({model:,.0f} crops/s; rounds "
        f"{spread(paired[EMBEDDED])} against {spread(paired[FP32])})"
    )
    if full >= model or min(paired[FP32]) <= max(paired[EMBEDDED]) and full >= 0.97 * model:
        return rounds + ": preprocessing and decoding cost less than the machine's round-to-round spread"
    return rounds + f": preprocessing and decoding take {1 - full / model:.0%} of the path's time"
