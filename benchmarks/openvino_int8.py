"""OpenVINO INT8 (NNCF post-training quantization) against OpenVINO BF16 and FP32: crops/s at batch 32 and word
accuracy on real_val, all in the same run.

Variants, each an OpenVINO model under ``--work``:

* ``ov-int8-conv``: NNCF's ``quantize`` (mixed preset: symmetric weights, asymmetric activations), calibrated on
  real_train crops (never real_val), with every MatMul (BiLSTM, attention decoder) and the whole TPS stage kept in
  FP32: the TPS localization net regresses the 20 fiducials, and quantizing it moves the rectification grid;
* ``ov-int8-all``: the same with nothing kept back (every convolution and MatMul NNCF supports).

Each INT8 graph runs its remaining float layers in FP32 (``+fp32``) and in BF16 (``+bf16``, where the CPU has BF16).

    python -m benchmarks.openvino_int8 --seconds 3       # needs nncf (the bench extra)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import agreement, predict_all, word_accuracy
from benchmarks.common import (
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
from benchmarks.quantize import reduced_precision_target
from rare.codec import ids_and_scores
from rare.engines import FULL_BATCH, available, open_engine
from rare.modelspec import ModelSpec

NAME = "openvino_int8"
KEEP_FP32 = {"ov-int8-conv": [".*/transform/.*"], "ov-int8-all": []}  # node-name patterns NNCF leaves in float


def quantize(source: Path, out: Path, crops: list[Crop], spec: ModelSpec, keep: list[str], matmul: bool) -> Path:
    """NNCF INT8 of the graph at ``source``, calibrated on ``crops``, saved as ``out`` (.xml + .bin)."""
    import nncf

    from rare.engines import openvino_core

    batches = [spec.preprocess([c.image for c in crops[i : i + 32]]) for i in range(0, len(crops), 32)]
    ignored = nncf.IgnoredScope(types=[] if matmul else ["MatMul"], patterns=keep, validate=False)
    model = nncf.quantize(
        openvino_core().read_model(str(source)),
        nncf.Dataset(batches),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(batches),
        ignored_scope=ignored,
    )
    import openvino as ov

    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(out), compress_to_fp16=False)  # the float layers keep FP32 weights
    return out


def measure(name: str, path: Path, engine: str, val: list[Crop], spec: ModelSpec, args: Any) -> dict[str, Any]:
    """Crops/s at batch 32 in the gateway's layout, and the text of every real_val crop, for ``path`` on ``engine``."""
    instances, threads = layout(args)
    run = open_engine(path, engine, threads, instances, FULL_BATCH)  # as the gateway, at its default max batch
    codec = spec.codec()

    def read(images: list[np.ndarray]) -> list[str]:
        ids, scores = ids_and_scores(run(spec.preprocess(images)))
        return [r.text for r in codec.decode_ids(ids, scores)]

    texts = predict_all(read, val)
    batch = spec.preprocess([c.image for c in val[:32]])
    latencies, wall = time_parallel(lambda: run(batch), instances, args.seconds)
    stats = latency_stats(latencies, len(batch), wall)
    accuracy = word_accuracy(texts, val)
    print(f"{name:>18}: {stats['items_per_s']:8.1f} crops/s at batch 32, accuracy {accuracy:.2f} %", flush=True)
    return {"variant": name, "accuracy": accuracy, "texts": texts, **stats}


def variants(args: Any, spec: ModelSpec) -> list[tuple[str, Path, str]]:
    """(name, graph, engine) to measure: the FP32 graph on FP32 and BF16, then each INT8 graph on both."""
    source = args.model_dir / spec.onnx_file
    bf16 = available("openvino-bf16")
    rows = [("ov-fp32", source, "openvino-fp32")] + ([("ov-bf16", source, "openvino-bf16")] if bf16 else [])
    calib = load_crops(args.calib_crops, split="real_train")
    for name, keep in KEEP_FP32.items():
        path = quantize(source, args.work / name / "model.xml", calib, spec, keep, matmul=name.endswith("all"))
        rows.append((f"{name}+fp32", path, "openvino-fp32"))
        if bf16:
            rows.append((f"{name}+bf16", path, "openvino-bf16"))
    return rows


def int8_targets(rows: list[dict[str, Any]]) -> list[Target]:
    fp32 = rows[0]
    best = max(rows, key=lambda r: r["items_per_s"] if not r["variant"].startswith("ov-int8") else 0.0)
    return [
        reduced_precision_target(
            f"OpenVINO INT8 {row['variant']}",
            row,
            fp32,
            f"{row['items_per_s'] / best['items_per_s']:.2f}x {best['variant']}'s speed in the same run: the INT8 "
            "kernels gain on the 1x1 convolutions but pay a quantize/dequantize at every float boundary "
            "(depthwise, SE, TPS, LSTM and decoder stay float)",
        )
        for row in rows
        if row["variant"].startswith("ov-int8")
    ]


def write_report(args: Any, facts: dict[str, Any], rows: list[dict[str, Any]], count: int) -> None:
    reference = rows[0]["texts"]
    table = markdown_table(
        ["variant", "crops/s (batch 32)", "p50 ms", "word accuracy %", "vs FP32 (pt)", "same text as FP32 %"],
        [
            (
                r["variant"],
                r["items_per_s"],
                r["p50_ms"],
                r["accuracy"],
                r["accuracy"] - rows[0]["accuracy"],
                agreement(r["texts"], reference),
            )
            for r in rows
        ],
    )
    instances, threads = layout(args)
    points = {r["variant"]: (r["items_per_s"], r["accuracy"]) for r in rows}
    png = save_scatter(
        args.out / f"{NAME}.png", "OpenVINO: speed vs accuracy", "crops/s at batch 32", "word accuracy %", points
    )
    targets = int8_targets(rows)
    sections = [
        f"Model: `{shown(args.model_dir)}`; accuracy on {count} real_val crops; speed is model-only at batch 32 "
        f"over {args.seconds:g} s, {instances} stream(s) x {threads} thread(s); NNCF calibration on "
        f"{args.calib_crops} real_train crops. CPU INT8 here has VNNI: {facts['isa']['avx512_vnni']}.",
        "## Targets\n\n" + targets_table(targets),
        "## Variants\n\n" + table,
        f"![{NAME}]({png.name})",
    ]
    data_rows = [{k: v for k, v in r.items() if k != "texts"} for r in rows]
    write_results(
        args.out,
        NAME,
        "OpenVINO INT8: speed and accuracy",
        sections,
        {"machine": facts, "rows": data_rows, "targets": [t.__dict__ for t in targets]},
    )


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=3.0)
    parser.add_argument("--work", type=Path, default=WORK_DIR / "openvino_int8", help="where the INT8 graphs go")
    parser.add_argument("--calib-crops", type=int, default=512, help="real_train crops for NNCF's calibration")
    parser.add_argument("--val-crops", type=int, default=0, help="real_val crops to score (0: all)")
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    if not available("openvino-fp32"):
        raise SystemExit("OpenVINO is not installed: pip install -e '.[serve,bench]'")
    spec = ModelSpec.load(args.model_dir)
    val = load_crops(args.val_crops or len(labelled_paths("real_val")))
    rows = [measure(name, path, engine, val, spec, args) for name, path, engine in variants(args, spec)]
    write_report(args, cpu_facts(), rows, len(val))
    print(f"wrote {args.out / (NAME + '.md')}; INT8 graphs in {args.work}")


if __name__ == "__main__":
    main()
