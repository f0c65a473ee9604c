"""Gather the targets of every benchmark in ``results/`` into ``results/README.md``, next to the measured values.

python -m benchmarks.report
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, Target, machine_header, markdown_table
from benchmarks.rapidocr_compare import summary as rapidocr_summary

ORDER = (
    "model_throughput",
    "ort_profile",
    "peak",
    "quantize",
    "openvino_int8",
    "triton_perf",
    "gateway_load_onnxruntime",
    "gateway_load_triton",
    "open_loop_onnxruntime",
    "open_loop_triton",
    "rapidocr_compare",
    "lexicon",
    "calibration",
)


def load_results(folder: Path) -> dict[str, dict[str, Any]]:
    """Every ``<name>.json`` a benchmark wrote, by name, in the order of :data:`ORDER` (others after)."""
    found = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}
    return {name: found[name] for name in (*[n for n in ORDER if n in found], *[n for n in found if n not in ORDER])}


def summary(results: dict[str, dict[str, Any]]) -> str:
    verdict = {True: "yes", False: "**no**", None: "not measured"}
    targets = markdown_table(
        ["benchmark", "target", "goal", "measured", "met", "what bounds it"],
        [
            (f"[{name}]({name}.md)", t.name, t.goal, t.measured, verdict[t.met], t.bound)
            for name, result in results.items()
            for t in (Target(**d) for d in result.get("targets", []))
        ],
    )
    runs = markdown_table(
        ["benchmark", "written", "cores busy with other work at start", "busy"],
        [
            (
                f"[{name}]({name}.md)",
                r["written"],
                r["machine"].get("busy_cores", "?"),
                "**yes**" if r["machine"]["busy"] else "no",
            )
            for name, r in results.items()
        ],
    )
    first = next(iter(results.values()))
    sections = [
        "# Benchmark results",
        "Written by `python -m benchmarks.report` from the `.json` files next to it (`make bench` runs everything). "
        "A run marked busy had other work on the CPU: its numbers are not final.",
        machine_header(first["machine"]),
        "## Targets\n\n" + targets,
    ]
    if "rapidocr_compare" in results:
        table = markdown_table(
            ["engine", "crops/s at batch 1", "crops/s at best batch", "best batch", "word accuracy %"],
            rapidocr_summary(results["rapidocr_compare"]["rows"]),
        )
        sections.append("## Against RapidOCR (recognition only, same crops and machine)\n\n" + table)
    sections.append("## Runs\n\n" + runs)
    return "\n\n".join(sections) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="the results folder to summarize")
    args = parser.parse_args()
    results = load_results(args.out)
    if not results:
        raise SystemExit(f"{args.out}: no benchmark results (.json) to summarize")
    path = args.out / "README.md"
    path.write_text(summary(results), encoding="utf-8")
    print(f"wrote {path} ({len(results)} benchmarks)")


if __name__ == "__main__":
    main()
