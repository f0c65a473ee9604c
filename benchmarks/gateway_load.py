"""The gateway end to end over HTTP: concurrency x crops per request, against the bare backend at the same load.

Starts ``python -m service`` on 127.0.0.1 (embedded ONNX Runtime, or ``--backend triton``: a local CPU Triton on
a Python-backend repository), loads ``POST /recognize`` with real crops (wrk, closed loop), samples the gateway's
VmRSS and the CPU spent by the machine and by the gateway process (/proc) during every cell, then runs the bare
backend on the same preprocessed crops at the same load, its CPU measured the same way.

    python -m benchmarks.gateway_load --seconds 3                      # embedded backend
    python -m benchmarks.gateway_load --backend triton --seconds 3     # gateway -> Triton gRPC
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import (
    Crop,
    base_parser,
    check_model_dir,
    cpu_facts,
    layout,
    load_crops,
    parse_ints,
    ratio,
)
from benchmarks.gateway_report import write_report
from benchmarks.load import CpuMeter, LoadResult, RssSampler, multipart_body, run_httpx, run_wrk, wrk_available
from benchmarks.servers import bare_onnx, bare_triton, gateway_process
from benchmarks.triton_util import python_triton
from build_engine.triton_config import ServingOptions
from rare.engines import parse_plan
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer

TRITON_MODEL = "rare"
MAX_BATCH = 32  # the gateway's RARE_MAX_BATCH_SIZE default, and the Triton model's max_batch_size here


@contextmanager
def backend(args: Any, scratch: Path) -> Iterator[tuple[dict[str, str], str | None]]:
    """The gateway's RARE_* environment, and Triton's gRPC address when the backend is Triton (started here)."""
    instances, threads = layout(args)
    env = {
        "RARE_MODEL_DIR": str(args.model_dir.resolve()),
        "RARE_LOG_LEVEL": "warning",
        "RARE_ORT_INSTANCES": str(instances),
        "RARE_ORT_THREADS": str(threads),
        "RARE_NUDGES": "false",  # one view per crop, as the bare backend runs them (benchmarks.common.one_view)
    }
    if args.backend == "onnxruntime":
        yield {**env, "RARE_MAX_BATCH_SIZE": str(MAX_BATCH)}, None
        return
    options = ServingOptions(
        name=TRITON_MODEL,
        max_batch_size=MAX_BATCH,
        max_queue_delay_us=args.delay_us,
        instances=instances,
        threads=threads,
    )
    with python_triton(args.model_dir, scratch / "repository", options) as server:
        yield {**env, "RARE_TRITON_URL": server.grpc_url, "RARE_TRITON_MODEL": TRITON_MODEL}, server.grpc_url


def http_load(args: Any, url: str, body: tuple[bytes, str], crops: int, concurrency: int, seconds: float) -> LoadResult:
    client = run_wrk if args.client == "wrk" else run_httpx
    return client(url, body[0], body[1], crops, concurrency, seconds)


def cell_seconds(args: Any, previous: LoadResult | None, concurrency: int, previous_concurrency: int) -> float:
    """``--seconds``, or longer when requests are slow: wrk drops the requests still in flight at its deadline, so a
    cell lasts at least ~10 latencies (estimated from the previous cell), capped at ``--max-cell-seconds``."""
    if previous is None or math.isnan(previous.p50_ms):
        return args.seconds
    estimate = previous.p50_ms / 1000 * concurrency / previous_concurrency
    return min(args.max_cell_seconds, max(args.seconds, 10 * estimate))


def row(result: LoadResult, concurrency: int, **extra: Any) -> dict[str, Any]:
    return {
        "crops": result.crops_per_request,
        "concurrency": concurrency,
        "requests": result.requests,
        "errors": result.errors,
        "crops_per_s": result.crops_per_s,
        "seconds": result.seconds,
        "p50_ms": result.p50_ms,
        "p95_ms": result.p95_ms,
        "p99_ms": result.p99_ms,
        **extra,
    }


def backend_calls(base_url: str) -> tuple[float, float]:
    """Crops the embedded backend has run so far, and in how many inferences (its micro-batch histogram)."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    totals = {"rare_inference_batch_size_sum": 0.0, "rare_inference_batch_size_count": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return totals["rare_inference_batch_size_sum"], totals["rare_inference_batch_size_count"]


def gateway_sweep(
    args: Any, env: dict[str, str], crops: list[Crop], log: Path
) -> tuple[list[dict[str, Any]], float, str]:
    """Every (crops per request, concurrency) cell through the gateway; rows, the RSS before the load (MiB), and the
    backend it served on (/v1/models)."""
    bodies = {k: multipart_body([(c.path.name, c.path.read_bytes()) for c in crops[:k]]) for k in args.crops}
    rows = []
    with gateway_process(env, log) as gateway:
        url = gateway.url + "/recognize"
        served = httpx.get(gateway.url + "/v1/models", timeout=10).json()["models"][0]["backend"]
        for k, body in bodies.items():
            http_load(args, url, body, k, 1, 1.0)  # warm: first requests of this size
        baseline = (RssSampler(gateway.process.pid).rss_kib() or 0) / 1024
        for k, body in bodies.items():
            result, previous = None, 1
            for concurrency in args.concurrency:
                seconds = cell_seconds(args, result, concurrency, previous)
                before = backend_calls(gateway.url)
                with RssSampler(gateway.process.pid) as rss, CpuMeter(gateway.process.pid) as cpu:
                    result = http_load(args, url, body, k, concurrency, seconds)
                crops, calls = (after - first for after, first in zip(backend_calls(gateway.url), before, strict=True))
                machine_ms, gateway_ms = cpu.ms_per(result.crops_per_s * result.seconds)
                extra = {"peak_rss_mib": rss.peak_mib, "mean_batch": crops / max(calls, 1)}
                extra |= {"cpu_ms_per_crop": machine_ms, "gateway_cpu_ms_per_crop": gateway_ms}
                extra |= {"loop_cpu_ms_per_crop": cpu.main_ms_per(result.crops_per_s * result.seconds)}
                rows.append(row(result, concurrency, **extra))
                previous = concurrency
                time.sleep(0.5 + result.p99_ms / 1000)  # let requests cut off at the deadline drain
                print(
                    f"gateway crops {k} concurrency {concurrency}: {result.crops_per_s:.1f} crops/s, p50 "
                    f"{result.p50_ms:.1f} p99 {result.p99_ms:.1f} ms, {result.errors} errors, {rss.peak_mib:.0f} MiB, "
                    f"{rows[-1]['mean_batch']:.1f} crops per backend call"
                )
    return rows, baseline, served


def bare_sweep(
    args: Any, crops: list[Crop], grpc_url: str | None, seconds: dict[tuple[int, int], float], served: str
) -> list[dict[str, Any]]:
    """The same cells, for as long as the gateway's, on the bare backend (in this process on the engines the
    gateway served on, gRPC for Triton)."""
    spec = ModelSpec.load(args.model_dir)
    instances, threads = layout(args)
    plan = parse_plan(served)
    recognizer = (
        OnnxRecognizer(args.model_dir, threads, spec, plan, streams=instances, full_batch=MAX_BATCH)
        if grpc_url is None
        else None
    )
    rows = []
    for k in args.crops:
        batch = spec.preprocess([c.image for c in crops[:k]])
        for concurrency in args.concurrency:
            duration = seconds.get((k, concurrency), args.seconds)
            with CpuMeter() as cpu:
                if recognizer is not None:
                    result = bare_onnx(recognizer, batch, concurrency, duration, MAX_BATCH, instances)
                else:
                    result = bare_triton(grpc_url or "", TRITON_MODEL, spec.input.name, batch, concurrency, duration)
            rows.append(row(result, concurrency, cpu_ms_per_crop=cpu.ms_per(result.crops_per_s * result.seconds)[0]))
            print(f"bare    crops {k} concurrency {concurrency}: {result.crops_per_s:.1f} crops/s")
    return rows


def join(gateway: list[dict[str, Any]], bare: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gateway rows with the bare backend's crops/s and the ratio gateway / bare at the same cell."""
    by_cell = {(b["crops"], b["concurrency"]): b for b in bare}
    out = []
    for g in gateway:
        b = by_cell.get((g["crops"], g["concurrency"]))
        bare_rate = b["crops_per_s"] if b else float("nan")
        out.append(
            {
                **g,
                "bare_crops_per_s": bare_rate,
                "bare_p50_ms": b["p50_ms"] if b else float("nan"),
                "bare_cpu_ms_per_crop": b.get("cpu_ms_per_crop", float("nan")) if b else float("nan"),
                "ratio": ratio(g["crops_per_s"], bare_rate),
            }
        )
    return out


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=3.0)
    parser.add_argument("--backend", choices=("onnxruntime", "triton"), default="onnxruntime")
    parser.add_argument("--concurrency", type=parse_ints, default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--crops", type=parse_ints, default=[1, 8, 32], help="crops per request")
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk" if wrk_available() else "httpx")
    parser.add_argument("--delay-us", type=int, default=2000, help="Triton max_queue_delay (triton backend)")
    parser.add_argument("--max-cell-seconds", type=float, default=60.0, help="cap of a cell's (slow) measuring time")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-backend sweep")
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    facts = cpu_facts()
    crops = load_crops(max(args.crops))
    with (
        tempfile.TemporaryDirectory(prefix="rare_gateway_load_") as tmp,
        backend(args, Path(tmp)) as (env, grpc),
    ):
        (args.out / "raw").mkdir(parents=True, exist_ok=True)
        gateway, baseline, served = gateway_sweep(args, env, crops, args.out / "raw" / f"gateway_{args.backend}.log")
        print(f"the gateway served on {served}")
        durations = {(r["crops"], r["concurrency"]): r["seconds"] for r in gateway}
        bare = [] if args.no_bare else bare_sweep(args, crops, grpc, durations, served)
    path = write_report(args, facts, join(gateway, bare), baseline, served)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
