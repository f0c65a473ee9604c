"""Model throughput vs batch size: PyTorch eager, ONNX Runtime FP32 and FP16 (and any extra ONNX file).

Model only (preprocessed real crops in, outputs out), one call at a time, ``--seconds`` per point; plus, at batch
32, rounds that alternate the model alone, PaddleOCR's export (``--extra paddleocr-export=...``) and the embedded
paths that include the library's preprocessing and decoding (OnnxRecognizer), reported as the median round.

    python -m benchmarks.model_throughput --seconds 3
    python -m benchmarks.model_throughput --extra int8-dynamic=.cache/bench/quant/int8-dynamic/model.onnx
    python -m benchmarks.model_throughput --device cuda      # on a GPU host: PyTorch CUDA FP16
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    BATCH_SIZES,
    Target,
    base_parser,
    check_model_dir,
    cpu_facts,
    latency_stats,
    layout,
    load_crops,
    markdown_table,
    one_view,
    parse_ints,
    shown,
    targets_table,
    time_parallel,
    write_results,
)
from benchmarks.paired import (
    EMBEDDED,
    FP32,
    PADDLE,
    Run,
    embedded_share,
    median_rows,
    paddle_target,
    paired_rounds,
    rates_of,
)
from benchmarks.peak import gemm_peak, model_flops
from benchmarks.plots import save_panels, series_by
from benchmarks.runners import Runner, engine_runner, fp16_onnx, onnx_runner, torch_runner
from rare.engines import FULL_BATCH, available, describe, plan_by_batch
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer, usable_cores

NAME = "model_throughput"
FP32_TARGET = 1000.0  # crops/s at batch 32, embedded CPU path (performance target)
REDUCED_TARGET = 2000.0  # crops/s at batch 32, a reduced-precision engine within 0.5 point (performance target)
OV_ENGINES = {"ov-fp32": "openvino-fp32", "ov-bf16": "openvino-bf16"}
SERVED = "served engine + preprocess + decode"  # the engine RARE_ENGINE=auto picks here


Factory = tuple[Callable[[], Runner], int]  # (build the runner, instances calling it at once)


def checked_variants(variants: str) -> list[str]:
    """``--variants`` as a list; an unknown name stops the run."""
    known = ("torch", "ort-fp32", "ort-fp16", *OV_ENGINES)
    for variant in (names := variants.split(",")):
        if variant not in known:
            raise SystemExit(f"--variants: unknown {variant!r}; choose from {', '.join(known)}")
    return names


def runner_factories(args: Any) -> tuple[dict[str, Factory], list[str]]:
    """The engines named by ``--variants`` and ``--extra``, built one at a time so that none disturbs another.
    ONNX Runtime engines run in the gateway's layout (``--instances`` x ``--threads``); ``ort-fp32`` is also timed
    as one instance on all cores, the layout before the embedded backend ran one instance per core."""
    onnx_path = args.model_dir / ModelSpec.load(args.model_dir).onnx_file
    instances, threads = layout(args)
    cores = usable_cores()
    factories: dict[str, Factory] = {}
    notes = [f"ONNX Runtime engines: {instances} instance(s) x {threads} thread(s), called at once."]
    for variant in checked_variants(args.variants):
        if variant == "torch":
            name = "torch-cuda-fp16" if args.device == "cuda" else "torch-cpu"
            factories[name] = (lambda: torch_runner(args.model_dir, args.device, args.threads), 1)
            weights = args.model_dir / "model.pt"
            notes.append(
                "PyTorch (one call at a time, all cores), weights: "
                f"{shown(weights) if weights.is_file() else 'untrained, same architecture'}."
            )
        elif variant == "ort-fp32":
            factories[FP32] = (lambda: onnx_runner(onnx_path, threads), instances)
            if instances > 1:
                factories[f"{FP32} 1x{cores}"] = (lambda: onnx_runner(onnx_path, cores), 1)
                notes.append(f"`{FP32} 1x{cores}`: one instance with {cores} intra-op threads.")
        elif variant in OV_ENGINES and available(OV_ENGINES[variant]):
            runner = partial(engine_runner, onnx_path, OV_ENGINES[variant], threads, instances, FULL_BATCH)
            factories[variant] = (runner, instances)
            notes.append(f"{variant}: batch {FULL_BATCH} runs on the graph compiled for it (static shape), as served.")
        elif variant in OV_ENGINES:
            notes.append(f"{variant}: not available here (OpenVINO missing, or no native BF16).")
        elif variant == "ort-fp16":
            factories["ort-fp16"] = (lambda: onnx_runner(fp16_onnx(args.model_dir), threads), instances)
            notes.append("FP16 graph: build_engine.fp16 of model.onnx (FP32 islands: TPS grid, softmax, argmax).")
    for item in args.extra:
        name, _, path = item.partition("=")
        factories[name] = (lambda p=Path(path): onnx_runner(p, threads), instances)
        notes.append(f"{name}: `{path}`.")
    return factories, notes


def sweep(
    factories: dict[str, Factory], data: np.ndarray, batches: Sequence[int], seconds: float
) -> list[dict[str, Any]]:
    """One row per (engine, batch size): crops/s (all instances together) and percentiles of one call's latency."""
    rows = []
    for name, (factory, instances) in factories.items():
        run = factory()
        for size in batches:
            batch = np.ascontiguousarray(data[:size])
            latencies, wall = time_parallel(lambda b=batch, r=run: r(b), instances, seconds)
            rows.append({"engine": name, "batch": size, **latency_stats(latencies, size, wall)})
            print(
                f"{name:>16} batch {size:>4}: {rows[-1]['items_per_s']:8.1f} crops/s  p50 {rows[-1]['p50_ms']:.2f} ms"
            )
        del run
        gc.collect()
    return rows


def embedded_runs(args: Any, crops: list[np.ndarray]) -> dict[str, Run]:
    """OnnxRecognizer.recognize on 32 decoded crops per call, in the gateway's layout (preprocessing + the graph +
    decoding, one view per crop): on ONNX Runtime FP32, and on the engine the gateway serves on here
    (RARE_ENGINE=auto)."""
    instances, threads = layout(args)
    spec, images = one_view(ModelSpec.load(args.model_dir)), crops[:32]
    engines = ["onnxruntime", *spec.engines]
    served, _ = plan_by_batch(args.model_dir / spec.onnx_file, engines, spec.image_shape, len(images))
    runs: dict[str, Run] = {}
    for name, engine in ((EMBEDDED, "onnxruntime"), (f"{SERVED} ({describe(served)})", served)):
        recognizer = OnnxRecognizer(args.model_dir, threads, spec, engine, streams=instances, full_batch=FULL_BATCH)
        runs[name] = (lambda r=recognizer: r.recognize(images), instances)
    return runs


def batch32_runs(factories: dict[str, Factory], data: np.ndarray, args: Any, crops: list[np.ndarray]) -> dict[str, Run]:
    """What the alternated rounds time at batch 32: the model alone, PaddleOCR's export, the embedded paths."""
    batch = np.ascontiguousarray(data[:32])
    runs: dict[str, Run] = {}
    for name in (FP32, PADDLE):
        if name in factories:
            run, instances = factories[name][0](), factories[name][1]
            runs[name] = (lambda r=run: r(batch), instances)
    return runs | embedded_runs(args, crops)


def bound(rate: float, flops: float, peak: float, cores: int) -> str:
    """What limits ``rate``: its arithmetic against the cores' FP32 GEMM peak (benchmarks.peak measures both)."""
    gflops = rate * flops / 1e9
    return (
        f"{gflops:.0f} GFLOP/s = {gflops / (peak * cores):.0%} of {cores} cores' FP32 GEMM peak ({peak:.0f} GFLOP/s "
        "each): the kernels are too small for the vector units (depthwise convolutions, 1x1 convolutions on 1x25 "
        "maps, a 25-step decoder run step by step), not the arithmetic; see peak.md"
    )


def fp32_targets(
    rows: list[dict[str, Any]], flops: float, peak: float, bf16_drop: str, paired: dict[str, list]
) -> list[Target]:
    """The FP32 and reduced-precision targets at batch 32: model only, and with preprocessing + decoding;
    ``bf16_drop``: what BF16 loses on real_val, as the engine gate recorded it."""
    targets, cores = [], usable_cores()
    for engines, name, goal in (
        ((FP32, "ov-fp32"), "embedded CPU path FP32 (model only, best FP32 engine)", FP32_TARGET),
        ((EMBEDDED,), "embedded CPU path FP32 (with preprocess + decode)", FP32_TARGET),
        (("ov-bf16",), f"reduced precision BF16 (model only; {bf16_drop})", REDUCED_TARGET),
        ((SERVED,), "the served engine (with preprocess + decode)", REDUCED_TARGET),
    ):
        rates = [r["items_per_s"] for r in rows if r["engine"].split(" (")[0] in engines and r["batch"] == 32]
        wanted = f">= {goal:,.0f} crops/s at batch 32"
        if not rates:  # no batch 32 in --batch-sizes, or the engine is not in --variants or not available here
            targets.append(Target(name, wanted, "—", None))
        else:
            best = max(rates)
            why = bound(best, flops, peak, cores) if best < goal else ""
            if engines == (EMBEDDED,):
                why = "; ".join(w for w in (embedded_share(paired), why) if w)
            targets.append(Target(name, wanted, f"{best:,.0f} crops/s", best >= goal, why))
    return targets


def cpu_targets(model_dir: Path, rows: list[dict[str, Any]], paired: dict[str, list]) -> list[Target]:
    """Every CPU target: FP32 and BF16 rates against the GEMM peak, and the graph against PaddleOCR's export."""
    spec = ModelSpec.load(model_dir)
    gate = spec.engines.get("openvino-bf16")
    drop = f"loses {gate['drop_points']:.2f} point on {gate['validated_on']}" if gate else "not gated for this model"
    flops, peak = model_flops(model_dir / spec.onnx_file), gemm_peak()
    return [*fp32_targets(rows, flops, peak, drop, paired), *paddle_target(paired)]


def write_report(
    args: Any, facts: dict[str, Any], rows: list[dict[str, Any]], notes: list[str], paired: dict[str, list]
) -> Path:
    name = NAME if args.device == "cpu" else f"{NAME}_{args.device}"
    sweep_rows = [r for r in rows if "+ preprocess" not in r["engine"]]
    panels = [
        ("crops/s", series_by(sweep_rows, "engine", "batch", "items_per_s")),
        ("p50 latency per call (ms)", series_by(sweep_rows, "engine", "batch", "p50_ms")),
    ]
    plot = save_panels(
        args.out / f"{name}.png",
        f"RARE model throughput vs batch size ({args.device})",
        "batch size",
        panels,
        log_y=(False, True),
    )
    table = markdown_table(
        ["engine", "batch", "crops/s", "p50 ms", "p95 ms", "p99 ms", "calls"],
        [
            (r["engine"], r["batch"], r["items_per_s"], r["p50_ms"], r["p95_ms"], r["p99_ms"], int(r["calls"]))
            for r in rows
        ],
    )
    targets = cpu_targets(args.model_dir, rows, paired) if args.device == "cpu" else []
    sections = [
        f"Model: `{shown(args.model_dir)}`; {args.seconds:g} s per point; latency is one call of the whole batch; "
        "crops/s counts every instance's calls. " + " ".join(notes),
        "## Targets\n\n" + targets_table(targets),
        "## Throughput and latency\n\n" + table,
        f"![throughput]({plot.name})",
    ]
    data = {
        "machine": facts,
        "device": args.device,
        "rows": rows,
        "paired_batch32": paired,
        "targets": [t.__dict__ for t in targets],
        "notes": notes,
    }
    return write_results(args.out, name, f"Model throughput vs batch size ({args.device})", sections, data)


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=3.0)
    parser.add_argument("--batch-sizes", type=parse_ints, default=list(BATCH_SIZES))
    parser.add_argument(
        "--variants", default="torch,ort-fp32,ort-fp16,ov-fp32,ov-bf16", help="comma list of engines (see --help)"
    )
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH", help="another ONNX file to time")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="PyTorch device (cuda: FP16 autocast)")
    parser.add_argument(
        "--paired-rounds",
        type=int,
        default=5,
        help=f"alternated rounds at batch 32: {FP32}, --extra {PADDLE}, and the paths with preprocess + decode",
    )
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    if args.device == "cuda" and gpu_name() == "none found":
        raise SystemExit("--device cuda: torch sees no CUDA device (this torch may be the CPU build)")
    if args.device == "cuda" and args.variants == parser.get_default("variants"):
        args.variants = "torch"  # on a GPU host this benchmark times PyTorch CUDA FP16 only
    facts = cpu_facts()
    crops = [c.image for c in load_crops(max(*args.batch_sizes, 32))]
    data = ModelSpec.load(args.model_dir).preprocess(crops)
    factories, notes = runner_factories(args)
    rows = sweep(factories, data, args.batch_sizes, args.seconds)
    paired: dict[str, list] = {}
    if args.device == "cpu":
        stats = paired_rounds(batch32_runs(factories, data, args, crops), 32, args.seconds, args.paired_rounds)
        paired = rates_of(stats)
        rows += median_rows(stats, 32, [name for name in stats if "+ preprocess" in name])
        print(", ".join(f"{r['engine']}: {r['items_per_s']:.1f} crops/s" for r in rows[-2:]))
    else:
        notes.append(f"GPU: {gpu_name()}.")
    print(f"wrote {write_report(args, facts, rows, notes, paired)}")


def gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none found"


if __name__ == "__main__":
    main()
