"""Side by side with what users pick instead: RapidOCR's recognizer on the same crops, same machine, same run.

RapidOCR (pip ``rapidocr``, with ``onnxruntime``) ships its models in the wheel: the default recognizer is
``rapidocr/models/PP-OCRv6_rec_small.onnx`` (PP-OCR CTC, Chinese + English charset, input 3x48xW), so it runs
offline. Only its recognizer runs (no detection, no angle classifier), on decoded BGR crops, with the same ONNX
Runtime thread count as ours. Both sides are timed end to end from decoded crops: preprocessing, model, decoding.

    python -m benchmarks.rapidocr_compare --seconds 3
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import Predict, predict_all, word_accuracy
from benchmarks.common import (
    Crop,
    base_parser,
    check_model_dir,
    cpu_facts,
    labelled_paths,
    latency_stats,
    layout,
    load_crops,
    markdown_table,
    one_view,
    parse_ints,
    shown,
    time_parallel,
    write_results,
)
from benchmarks.plots import save_panels, save_scatter, series_by
from rare.engines import available
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer

NAME = "rapidocr_compare"


def rapidocr_recognizer(threads: int) -> tuple[Callable[[list[np.ndarray], int], list[str]], str]:
    """RapidOCR's text recognizer alone: ``predict(crops, batch) -> texts``; and the model file (from its wheel)."""
    import rapidocr
    from rapidocr import RapidOCR
    from rapidocr.ch_ppocr_rec import TextRecInput

    shipped = sorted((Path(rapidocr.__file__).parent / "models").glob("*rec*.onnx"))
    if not shipped:
        raise SystemExit("rapidocr ships no recognition model in this version (it would download one): pin rapidocr")
    params = {
        "Rec.model_path": str(shipped[0]),  # the wheel's own model: never a download
        "Global.use_det": False,
        "Global.use_cls": False,
        "Global.log_level": "warning",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    engine = RapidOCR(params=params)
    engine(np.full((48, 160, 3), 255, np.uint8), use_det=False, use_cls=False)  # loads the recognizer
    recognizer = engine.text_rec

    def predict(images: list[np.ndarray], batch: int) -> list[str]:
        recognizer.rec_batch_num = batch
        return list(recognizer(TextRecInput(img=images)).txts)

    return predict, f"rapidocr {rapidocr_version()}: {shipped[0].name}"


def rapidocr_version() -> str:
    from importlib.metadata import version

    return version("rapidocr")


def ours(
    model_dir: Path, threads: int, engine: str = "onnxruntime", streams: int = 1, spec: ModelSpec | None = None
) -> Callable[[list[np.ndarray], int], list[str]]:
    """Our reading of crops as the model's rare.json says (nudged views, tall crops turned), or as ``spec`` says."""
    recognizer = OnnxRecognizer(model_dir, threads, spec, engine=engine, streams=streams)

    def predict(images: list[np.ndarray], batch: int) -> list[str]:
        return [
            r.text
            for start in range(0, len(images), batch)
            for r in recognizer.recognize(images[start : start + batch])
        ]

    return predict


def speed(
    predict: Callable[[list[np.ndarray], int], list[str]], crops: list[Crop], batch: int, args: Any
) -> dict[str, float]:
    """Crops/s calling ``predict`` with ``batch`` crops at a time from every instance at once, cycling through
    every crop."""
    chunks = itertools.cycle([[c.image for c in crops[i : i + batch]] for i in range(0, len(crops) - batch + 1, batch)])
    latencies, wall = time_parallel(lambda: predict(next(chunks), batch), layout(args)[0], args.seconds, warmup=1)
    return latency_stats(latencies, batch, wall)


def compare(
    args: Any, crops: list[Crop], engines: dict[str, Callable[[list[np.ndarray], int], list[str]]]
) -> list[dict[str, Any]]:
    rows = []
    for name, predict in engines.items():
        batch_predict: Predict = lambda images, p=predict: p(images, 32)  # noqa: E731 - accuracy at one batch size
        accuracy = word_accuracy(predict_all(batch_predict, crops), crops)
        for batch in args.batch_sizes:
            stats = speed(predict, crops, batch, args)
            rows.append({"engine": name, "batch": batch, "accuracy": accuracy, **stats})
            print(f"{name:>9} batch {batch:>3}: {stats['items_per_s']:8.1f} crops/s, accuracy {accuracy:.2f} %")
    return rows


def summary(rows: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    out = []
    for engine in dict.fromkeys(r["engine"] for r in rows):
        mine = [r for r in rows if r["engine"] == engine]
        one = next((r["items_per_s"] for r in mine if r["batch"] == 1), float("nan"))
        best = max(mine, key=lambda r: r["items_per_s"])
        out.append((engine, one, best["items_per_s"], best["batch"], mine[0]["accuracy"]))
    return out


def frontier(args: Any, rows: list[dict[str, Any]]) -> Path:
    """Word accuracy against crops/s per core (each engine at its best batch): one picture of the trade."""
    instances, threads = layout(args)
    cores = instances * threads
    points = {}
    for engine in dict.fromkeys(r["engine"] for r in rows):
        best = max((r for r in rows if r["engine"] == engine), key=lambda r: r["items_per_s"])
        points[engine] = (best["items_per_s"] / cores, best["accuracy"])
    title = f"Accuracy vs speed on real_val ({cpu_facts()['cpu']}, same run)"
    return save_scatter(args.out / f"{NAME}_frontier.png", title, "crops/s per core", "word accuracy %", points)


def write_report(args: Any, facts: dict[str, Any], rows: list[dict[str, Any]], count: int, rapid_model: str) -> None:
    series = series_by(rows, "engine", "batch", "items_per_s")
    image = save_panels(
        args.out / f"{NAME}.png", "RARE vs RapidOCR recognizer (CPU)", "batch size", [("crops/s", series)]
    )
    trade = frontier(args, rows)
    summary_table = markdown_table(
        ["engine", "crops/s at batch 1", "crops/s at best batch", "best batch", "word accuracy %"], summary(rows)
    )
    points = markdown_table(
        ["engine", "batch", "crops/s", "p50 ms", "p95 ms", "p99 ms"],
        [(r["engine"], r["batch"], r["items_per_s"], r["p50_ms"], r["p95_ms"], r["p99_ms"]) for r in rows],
    )
    sections = [
        f"Same {count} real_val crops, same process, same layout for both: {layout(args)[0]} instance(s) calling at "
        f"once, {layout(args)[1]} ONNX Runtime thread(s) each; "
        f"{args.seconds:g} s per point, timed from decoded crops (preprocess + model + decode). "
        f"RARE: `{shown(args.model_dir)}` (3x32x100, 25-step attention), read as its rare.json says (with its "
        "nudged views: one row per view) and, as `RARE one view`, one row per crop (RARE_NUDGES=false). "
        f"RapidOCR: its recognizer only, {rapid_model} "
        "(3x48xW, CTC). Word accuracy: lowercase alphanumeric protocol, at batch 32.",
        "## Summary\n\n" + summary_table,
        "## All points\n\n" + points,
        f"![rapidocr]({image.name})",
        f"![accuracy against speed]({trade.name})",
    ]
    data = {"machine": facts, "rows": rows, "rapidocr_model": rapid_model}
    write_results(args.out, NAME, "RARE vs RapidOCR (recognition only)", sections, data)


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=3.0)
    parser.add_argument("--batch-sizes", type=parse_ints, default=[1, 6, 16, 32, 64], help="6: RapidOCR's default")
    parser.add_argument("--crops", type=int, default=0, help="real_val crops to use (0: all)")
    parser.add_argument("--extra-model", action="append", default=[], metavar="NAME=DIR", help="another model dir")
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    facts = cpu_facts()
    crops = load_crops(args.crops or len(labelled_paths("real_val")))
    threads = layout(args)[1]
    rapid, rapid_model = rapidocr_recognizer(threads)
    spec = ModelSpec.load(args.model_dir)
    engines = {"RARE": ours(args.model_dir, threads)}
    if spec.orientation.nudges:  # the shipped reading and the fastest one: the trade the gateway's RARE_NUDGES makes
        engines["RARE one view"] = ours(args.model_dir, threads, spec=one_view(spec))
    for engine in (e for e in spec.engines if available(e)):  # the gated engines this machine has
        engines[f"RARE {engine}"] = ours(args.model_dir, threads, engine, layout(args)[0])
    for item in args.extra_model:  # e.g. int8=.cache/bench/quant/int8-dynamic
        name, _, path = item.partition("=")
        engines[f"RARE {name}"] = ours(Path(path), threads)
    rows = compare(args, crops, {**engines, "RapidOCR": rapid})
    write_report(args, facts, rows, len(crops), rapid_model)
    print(f"wrote {args.out / (NAME + '.md')}")


if __name__ == "__main__":
    main()
