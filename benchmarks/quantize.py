"""INT8 variants by ONNX Runtime quantization: crops/s at batch 32 and word accuracy on real_val, next to FP32.

* ``int8-dynamic``: ``quantize_dynamic`` of MatMul, Gemm and LSTM (INT8 weights, activations quantized at run time);
* ``int8-dynamic-all``: the same for every op it supports (Conv becomes ConvInteger);
* ``int8-static``: ``quantize_static``, QDQ, per-channel INT8 weights, UINT8 activations calibrated (MinMax) on
  real_train crops (never real_val), every op it supports;
* ``int8-static-conv``: the same for Conv only (the backbone and TPS localization net: most of the CPU time);
* ``int8-static-keepK``: ``int8-static`` with the K layers least tolerant of INT8 kept in FP32, found by a per-layer
  sweep (build_engine.sensitivity: each layer quantized alone, its output compared with FP32 on calibration crops).

Both keep build_engine.fp16's FP32 list in FP32 (the TPS grid generator, GridSample, Softmax, ArgMax/ReduceMax).
Each variant is a model directory (model.onnx + rare.json) under ``--work``, usable by the gateway and the other
benchmarks: ``RARE_MODEL_DIR=.cache/bench/quant/int8-static python -m service``.

    python -m benchmarks.quantize --seconds 5
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import onnx

from benchmarks.accuracy import agreement, predict_all, word_accuracy
from benchmarks.common import (
    SHARED,
    WORK_DIR,
    Crop,
    Target,
    base_parser,
    check_model_dir,
    cpu_facts,
    labelled_paths,
    latency_stats,
    layout,
    load_crops,
    markdown_table,
    shown,
    targets_table,
    time_parallel,
    write_results,
)
from benchmarks.plots import save_scatter
from benchmarks.runners import onnx_runner
from build_engine.fp16 import fp32_node_names
from build_engine.quantize import CalibrationBatches, calibration_batches, make_dynamic
from build_engine.sensitivity import LayerSensitivity, keep_least_tolerant, prepare, static_int8, sweep
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer

NAME = "quantize"
SPEED_TARGET = 2000.0  # crops/s at batch 32 for a quantized variant (performance target)
MAX_DROP = 0.5  # word-accuracy points below FP32
# variant -> (static?, op types to quantize; None: every op the quantizer supports)
VARIANTS: dict[str, tuple[bool, list[str] | None]] = {
    "int8-dynamic": (False, ["MatMul", "Gemm", "LSTM"]),
    "int8-dynamic-all": (False, None),
    "int8-static": (True, None),
    "int8-static-conv": (True, ["Conv"]),
}


def variant_dir(work: Path, name: str, model_dir: Path) -> Path:
    """``work/name/`` with the FP32 model's rare.json (the quantized graph keeps its float32 inputs and outputs)."""
    target = work / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copyfile(model_dir / "rare.json", target / "rare.json")
    return target


def build_variants(args: Any, facts: dict[str, Any], work: Path) -> tuple[dict[str, Path], list[LayerSensitivity]]:
    """Model directories by name: ``fp32`` (the model itself), each variant of ``--variants``, and
    ``int8-static-keepK`` for each K of ``--keep-layers``: static with the K least tolerant layers of the per-layer
    sweep (returned, least tolerant first) kept in FP32. One calibration serves them all (``work``: its cache)."""
    spec = ModelSpec.load(args.model_dir)
    source = args.model_dir / spec.onnx_file
    keep_fp32 = fp32_node_names(onnx.load(str(source)))
    reduce_range = not (facts["isa"]["avx512_vnni"] or facts["isa"]["avx_vnni"])
    batches = calibration_batches(SHARED / "data" / "real_train", args.calib_crops, spec)
    prepared, cache = prepare(source, work / "prepared.onnx"), work / "ranges.json"
    static_int8(prepared, work / "calibrated.onnx", CalibrationBatches(batches, spec.input.name), cache, keep_fp32)
    dirs = {"fp32": args.model_dir}
    for name in args.variants.split(","):
        if name not in VARIANTS:
            raise SystemExit(f"--variants: unknown {name!r}; choose from {', '.join(VARIANTS)}")
        static, ops = VARIANTS[name]
        dirs[name] = variant_dir(args.work, name, args.model_dir)
        if static:
            static_int8(prepared, dirs[name] / "model.onnx", None, cache, keep_fp32, ops=ops, reduce_range=reduce_range)
        else:
            make_dynamic(source, dirs[name], ops, keep_fp32)
    counts = [int(k) for k in args.keep_layers.split(",") if k]
    if not counts:
        return dirs, []
    ranked = sweep(prepared, work, batches, spec.input.name, keep_fp32, cache)
    for count in counts:
        dirs[f"int8-static-keep{count}"] = target = variant_dir(args.work, f"int8-static-keep{count}", args.model_dir)
        kept = keep_least_tolerant(ranked, count, onnx.load(str(prepared)), keep_fp32)
        static_int8(prepared, target / "model.onnx", None, cache, kept, reduce_range=reduce_range)
    return dirs, ranked


def read_all(model_dir: Path, val: list[Crop], threads: int) -> list[str]:
    """The texts of every crop (the recognizer, and its thread pool, are gone when this returns)."""
    recognizer = OnnxRecognizer(model_dir, threads)
    return predict_all(lambda images: [r.text for r in recognizer.recognize(images)], val)


def measure(name: str, model_dir: Path, val: list[Crop], args: Any) -> dict[str, Any]:
    """Crops/s at batch 32 (model only, in the gateway's layout) and the texts of every real_val crop."""
    spec = ModelSpec.load(model_dir)
    instances, threads = layout(args)
    texts = read_all(model_dir, val, threads)
    run = onnx_runner(model_dir / spec.onnx_file, threads)
    batch = spec.preprocess([c.image for c in val[:32]])
    latencies, wall = time_parallel(lambda: run(batch), instances, args.seconds)
    stats = latency_stats(latencies, len(batch), wall)
    accuracy = word_accuracy(texts, val)
    print(f"{name:>16}: {stats['items_per_s']:8.1f} crops/s at batch 32, accuracy {accuracy:.2f} %")
    size = (model_dir / spec.onnx_file).stat().st_size / 2**20
    return {"variant": name, "dir": shown(model_dir), "size_mib": size, "accuracy": accuracy, "texts": texts, **stats}


def quantized_bound(row: dict[str, Any], fp32: dict[str, Any], ranked: list[LayerSensitivity]) -> str:
    """Why an INT8 variant misses: its speed (the kernels' size, not their arithmetic, sets it) and, where it loses
    more than allowed, its accuracy (the loss is spread over the layers, as the per-layer sweep shows)."""
    speed = row["items_per_s"] / fp32["items_per_s"]
    text = (
        f"{speed:.2f}x FP32's speed: FP32 already runs at about a tenth of the GEMM peak because the kernels are "
        "small (peak.md); INT8 makes their arithmetic cheaper, not their size larger, and adds a quantize/dequantize "
        "pair at every float boundary (TPS grid, softmax, argmax, layers kept FP32)"
    )
    if fp32["accuracy"] - row["accuracy"] > MAX_DROP and row["variant"].startswith("int8-static") and ranked:
        sqnr = sorted(r.sqnr_db for r in ranked)
        text += (
            f"; accuracy: per-tensor UINT8 activations cost a little at every layer (each of {len(ranked)} layers "
            f"alone: {sqnr[0]:.0f}-{sqnr[len(sqnr) // 2]:.0f} dB output SQNR, lowest to median), so no few layers "
            "kept in FP32 win it back"
        )
    return text + " (BF16 OpenVINO is the reduced-precision engine that wins: model_throughput.md)"


def reduced_precision_target(name: str, row: dict[str, Any], fp32: dict[str, Any], bound: str) -> Target:
    """A reduced-precision variant against the speed target and the accuracy it may lose against ``fp32``;
    ``bound``: what stops it, stated when it misses."""
    goal = f">= {SPEED_TARGET:,.0f} crops/s at batch 32, <= {MAX_DROP} pt word accuracy lost"
    change = row["accuracy"] - fp32["accuracy"] + 0.0  # + 0.0 turns -0.0 into 0.0
    met = row["items_per_s"] >= SPEED_TARGET and -change <= MAX_DROP
    measured = f"{row['items_per_s']:,.0f} crops/s, accuracy {change:+.2f} pt vs FP32"
    return Target(name, goal, measured, met, "" if met else bound)


def quantized_targets(rows: list[dict[str, Any]], ranked: list[LayerSensitivity]) -> list[Target]:
    fp32 = rows[0]
    return [
        reduced_precision_target(f"quantized variant {r['variant']}", r, fp32, quantized_bound(r, fp32, ranked))
        for r in rows[1:]
    ]


def plot(out: Path, rows: list[dict[str, Any]]) -> Path:
    points = {r["variant"]: (r["items_per_s"], r["accuracy"]) for r in rows}
    return save_scatter(out / f"{NAME}.png", "Speed vs accuracy", "crops/s at batch 32", "word accuracy %", points)


def sweep_section(ranked: list[LayerSensitivity], shown_layers: int = 12) -> str:
    """The per-layer sweep's least tolerant layers, as a markdown section."""
    table = markdown_table(
        ["rank", "layer (only it quantized)", "nodes", "output SQNR dB", "crops whose output changes %"],
        [(i + 1, f"`{r.layer}`", r.nodes, r.sqnr_db, 100 * r.changed) for i, r in enumerate(ranked[:shown_layers])],
    )
    return (
        f"## Per-layer sweep\n\nEach of {len(ranked)} layers quantized alone (static QDQ, everything else FP32), its "
        "model output compared with FP32 on the calibration crops; lower SQNR is less tolerant. "
        "`int8-static-keepK` keeps the first K of this ranking in FP32 "
        "(`python -m build_engine quantize --method static --keep-fp32-layers K`).\n\n" + table
    )


def variants_table(rows: list[dict[str, Any]]) -> str:
    """Every variant's speed, accuracy and agreement with FP32 (the first row), as a markdown table."""
    reference = rows[0]["texts"]
    return markdown_table(
        ["variant", "crops/s (batch 32)", "p50 ms", "word accuracy %", "vs FP32 (pt)", "same text as FP32 %", "MiB"],
        [
            (
                r["variant"],
                r["items_per_s"],
                r["p50_ms"],
                r["accuracy"],
                r["accuracy"] - rows[0]["accuracy"],
                agreement(r["texts"], reference),
                r["size_mib"],
            )
            for r in rows
        ],
    )


def write_report(
    args: Any, facts: dict[str, Any], rows: list[dict[str, Any]], count: int, ranked: list[LayerSensitivity]
) -> None:
    table = variants_table(rows)
    targets = quantized_targets(rows, ranked)
    isa = facts["isa"]
    sections = [
        f"Model: `{shown(args.model_dir)}`; accuracy on {count} real_val crops (lowercase alphanumeric protocol); "
        f"speed is model-only at batch 32 over {args.seconds:g} s; static calibration on {args.calib_crops} "
        "real_train crops. "
        f"INT8 speed on x86 depends on VNNI (present here: {isa['avx512_vnni'] or isa['avx_vnni']}); no BF16 variant: "
        "ONNX Runtime's CPU provider has no BF16 kernels for Conv/LSTM.",
        "## Targets\n\n" + targets_table(targets),
        "## Variants\n\n" + table,
        *([sweep_section(ranked)] if ranked else []),
        f"![quantize]({plot(args.out, rows).name})",
    ]
    data_rows = [{k: v for k, v in r.items() if k != "texts"} for r in rows]
    write_results(
        args.out,
        NAME,
        "INT8 quantization: speed and accuracy",
        sections,
        {
            "machine": facts,
            "rows": data_rows,
            "targets": [t.__dict__ for t in targets],
            "layers": [r.__dict__ for r in ranked],
        },
    )


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=5.0)
    parser.add_argument("--work", type=Path, default=WORK_DIR / "quant", help="where the variant directories go")
    parser.add_argument("--calib-crops", type=int, default=256, help="real_train crops for static calibration")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma list of " + ", ".join(VARIANTS))
    parser.add_argument(
        "--keep-layers", default="1,2,4,8", help="comma list of K: static with the K least tolerant layers in FP32"
    )
    parser.add_argument("--val-crops", type=int, default=0, help="real_val crops to score (0: all)")
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    facts = cpu_facts()
    with tempfile.TemporaryDirectory(prefix="rare-quant-") as tmp:
        dirs, ranked = build_variants(args, facts, Path(tmp))
    val = load_crops(args.val_crops or len(labelled_paths("real_val")))
    rows = [measure(name, path, val, args) for name, path in dirs.items()]
    write_report(args, facts, rows, len(val), ranked)
    print(f"wrote {args.out / (NAME + '.md')}; variants in {args.work}")


if __name__ == "__main__":
    main()
