"""Where ONNX Runtime spends the time of one batch: kernel time per operator type, from its own profiler.

The embedded path as the gateway runs it: one single-threaded session, batch 32 of real crops, full graph
optimization (so the table names the fused and NCHWc-blocked kernels that actually run). This is what bounds the
FP32 crops/s of model_throughput.

    python -m benchmarks.ort_profile --runs 20
"""

from __future__ import annotations

import collections
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks.common import (
    base_parser,
    check_model_dir,
    cpu_facts,
    layout,
    load_crops,
    markdown_table,
    shown,
    write_results,
)
from benchmarks.plots import save_bars
from rare.modelspec import ModelSpec
from rare.onnx_runtime import session_options

NAME = "ort_profile"
BATCH = 32


def profile(model: Path, batch: np.ndarray, input_name: str, threads: int, runs: int) -> list[dict[str, Any]]:
    """Rows (op type, nodes, ms per run, share) sorted by time, from ``runs`` profiled runs after 3 warm-ups."""
    with tempfile.TemporaryDirectory(prefix="rare_ort_profile_") as tmp:
        options = session_options(threads)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        for _ in range(3 + runs):
            session.run(None, {input_name: batch})
        events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    kernels = kernels[len(kernels) * 3 // (3 + runs) :]  # drop the warm-up runs
    time_us, nodes = collections.Counter(), collections.defaultdict(set)
    for event in kernels:
        op = event["args"]["op_name"]
        time_us[op] += event["dur"]
        nodes[op].add(event["name"])
    total = sum(time_us.values())
    return [
        {"op": op, "nodes": len(nodes[op]), "ms_per_run": us / runs / 1000, "share": us / total}
        for op, us in time_us.most_common()
    ]


def main() -> None:
    parser = base_parser(__doc__.split("\n\n")[0], seconds=0.0)
    parser.add_argument("--runs", type=int, default=20, help="profiled runs of batch 32")
    args = parser.parse_args()
    check_model_dir(args.model_dir)
    spec = ModelSpec.load(args.model_dir)
    threads = layout(args)[1]
    batch = spec.preprocess([c.image for c in load_crops(BATCH)])
    rows = profile(args.model_dir / spec.onnx_file, batch, spec.input.name, threads, args.runs)
    total_ms = sum(r["ms_per_run"] for r in rows)
    top = {r["op"]: 100 * r["share"] for r in rows[:15]}
    title = f"ONNX Runtime kernel time by operator, batch {BATCH}"
    image = save_bars(args.out / f"{NAME}.png", title, "% of time", top)
    table = markdown_table(
        ["operator", "nodes", "ms per batch", "share %"],
        [(r["op"], r["nodes"], r["ms_per_run"], 100 * r["share"]) for r in rows],
    )
    sections = [
        f"Model: `{shown(args.model_dir)}`; one session, {threads} intra-op thread(s) (one gateway instance), "
        f"batch {BATCH} of real crops, {args.runs} runs; kernel time only (sum {total_ms:.1f} ms per batch = "
        f"{BATCH / total_ms * 1000:.0f} crops/s per instance). Operator names are what runs after ONNX Runtime's "
        "graph optimizations: Conv includes the fused BatchNorm and activation, NCHWc-blocked; Reorder* are "
        "layout changes into and out of the blocked format.",
        "## Time per operator type\n\n" + table,
        f"![profile]({image.name})",
    ]
    data = {"machine": cpu_facts(), "rows": rows}
    path = write_results(args.out, NAME, "Where ONNX Runtime spends the time", sections, data)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
