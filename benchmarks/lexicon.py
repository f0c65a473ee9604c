"""Lexicon-constrained word accuracy on real_val, as the RARE paper measures it: each crop with a list of 50 or 1,000
candidate words (its true word plus distractors drawn from the other labels of real_train and real_val), and the
time the matching costs per crop.

    python -m benchmarks.lexicon [--model-dir models/rare_mv3_en] [--sizes 50 1000]
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

from benchmarks.common import FOLDERS, SHARED, base_parser, check_model_dir, markdown_table, shown, write_results
from benchmarks.plots import save_bars
from rare.images import read_batches
from rare.labelfile import read_label_file
from rare.lexicon import Lexicon
from rare.metrics import normalize_text
from rare.onnx_runtime import OnnxRecognizer

SEED = 2016


def vocabulary() -> list[str]:
    """Every distinct normalized label of real_train and real_val (the distractors are drawn from these)."""
    words = set()
    for split in ("real_train", "real_val"):
        for folder in FOLDERS:
            words |= {normalize_text(e.label) for e in read_label_file(SHARED / "data" / split / folder / "gt.txt")}
    words.discard("")
    return sorted(words)


def evaluate(recognizer: OnnxRecognizer, sizes: list[int]) -> dict:
    """Free and lexicon-constrained accuracy per folder, and matching time per crop, for each lexicon size."""
    vocab, rng = vocabulary(), random.Random(SEED)
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    times: dict[int, list[float]] = defaultdict(list)
    for folder in FOLDERS:
        entries = [
            e for e in read_label_file(SHARED / "data" / "real_val" / folder / "gt.txt") if normalize_text(e.label)
        ]
        readings = []
        for batch in read_batches([e.path for e in entries], 64):
            readings += recognizer.recognize(batch.images)  # real_val crops all read (the suite checks it)
        for entry, reading in zip(entries, readings, strict=True):
            truth = normalize_text(entry.label)
            rows[folder]["free"].append(normalize_text(reading.text) == truth)
            for size in sizes:
                candidates = [truth, *rng.sample([w for w in vocab if w != truth], size - 1)]
                lexicon = Lexicon(candidates, recognizer.codec)
                start = time.perf_counter()
                match = lexicon.match(reading.text, reading.char_confidences)
                times[size].append(time.perf_counter() - start)
                rows[folder][str(size)].append(match.word == truth)
    return {"rows": rows, "ms_per_crop": {size: 1000 * sum(t) / len(t) for size, t in times.items()}}


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=0.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 1000])
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    result = evaluate(OnnxRecognizer(args.model_dir, threads=1), args.sizes)
    columns = ["free", *map(str, args.sizes)]
    table = []
    for folder, row in [*result["rows"].items(), ("**overall**", _overall(result["rows"], columns))]:
        table.append([folder, len(row["free"]), *(f"{100 * sum(row[c]) / len(row[c]):.1f} %" for c in columns)])
    headers = ["folder", "crops", "free reading", *(f"{s} candidates" for s in args.sizes)]
    timing = ", ".join(f"{ms:.2f} ms per crop with {size}" for size, ms in result["ms_per_crop"].items())
    sections = [
        f"Model: `{shown(args.model_dir)}`. Candidates: the true word plus distractors drawn (seed {SEED}) from the "
        f"other labels of real_train and real_val. Matching time (one thread, after the model): {timing}.",
        markdown_table(headers, table),
        "![lexicon](lexicon.png)",
    ]
    overall = _overall(result["rows"], columns)
    bars = {("free" if c == "free" else f"{c} candidates"): 100 * sum(overall[c]) / len(overall[c]) for c in columns}
    save_bars(args.out / "lexicon.png", "Word accuracy on real_val, free and with a lexicon", "word accuracy %", bars)
    data = {"rows": {f: {c: sum(v) / len(v) for c, v in row.items()} for f, row in result["rows"].items()}}
    data["ms_per_crop"] = result["ms_per_crop"]  # rows: the share of crops read right, by folder and lexicon size
    write_results(args.out, "lexicon", "Lexicon-constrained reading on real_val", sections, data)


def _overall(rows: dict, columns: list[str]) -> dict[str, list[float]]:
    return {c: [hit for row in rows.values() for hit in row[c]] for c in columns}


if __name__ == "__main__":
    main()
