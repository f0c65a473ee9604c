"""What every benchmark shares: arguments, the real crops, timing, machine facts, and the results files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rare.images import read_batches
from rare.labelfile import LabeledPath, read_label_file
from rare.modelspec import ModelSpec
from rare.onnx_runtime import usable_cores

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RARE_SHARED_DIR", REPO.parent / "shared")).resolve()
DEFAULT_MODEL_DIR = REPO / "models" / "rare_mv3_en"
RESULTS_DIR = REPO / "benchmarks" / "results"
WORK_DIR = Path(os.environ.get("RARE_BENCH_WORK", REPO / ".cache" / "bench"))  # derived models (git-ignored)
FOLDERS = ("IC15", "IIIT5K", "SVT")
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128)
ISA_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


@dataclass(frozen=True)
class Crop:
    image: np.ndarray  # BGR uint8 [H, W, 3], as decoded by rare.images
    label: str
    path: Path


@dataclass(frozen=True)
class Target:
    """One performance target next to what was measured (``met`` None: not measured in this run)."""

    name: str
    goal: str
    measured: str
    met: bool | None
    bound: str = ""  # what limits the measured value (shown when the target is not met, and where known)


def shown(path: Path) -> str:
    """A path as tables show it: relative to the repository when inside it, never this machine's layout."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def base_parser(description: str, seconds: float) -> argparse.ArgumentParser:
    """The arguments every benchmark takes; ``seconds`` is the default measuring time of one point."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="model.onnx + rare.json")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the .md/.json/.png files go")
    parser.add_argument("--seconds", type=float, default=seconds, help="measuring time of one point")
    parser.add_argument(
        "--instances", type=int, default=0, help="model instances run in parallel (0: one per core, as the gateway)"
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads per instance (0: cores/instances)")
    return parser


def layout(args: argparse.Namespace) -> tuple[int, int]:
    """(instances, intra-op threads each), resolved as the gateway's embedded backend resolves RARE_ORT_INSTANCES
    and RARE_ORT_THREADS."""
    cores = usable_cores()
    instances = args.instances or cores
    return instances, args.threads or max(1, cores // instances)


def one_view(spec: ModelSpec) -> ModelSpec:
    """``spec`` reading one upright view per crop (no nudges), as the gateway serves it with RARE_NUDGES=false: the
    speed benchmarks time one row per crop, the model's own cost (nudges multiply it by 1 + their number)."""
    return dataclasses.replace(spec, orientation=spec.orientation.without_nudges())


def parse_ints(text: str) -> list[int]:
    """``"1,8,32"`` -> ``[1, 8, 32]`` (for list arguments)."""
    return [int(part) for part in text.split(",") if part.strip()]


def check_model_dir(path: Path) -> Path:
    """``path`` if it holds an exported model, else exit with how to make one."""
    if not (path / "rare.json").is_file():
        raise SystemExit(
            f"{path}: no exported model (model.onnx + rare.json). Ship models/rare_mv3_en, or make a development "
            "model: python -m benchmarks.dev_model --out .cache/bench/dev_model, then pass --model-dir"
        )
    return path


def labelled_paths(split: str = "real_val") -> list[LabeledPath]:
    """Every (path, label) of ``shared/data/<split>`` (IC15, IIIT5K, SVT), in file order."""
    entries: list[LabeledPath] = []
    for folder in FOLDERS:
        entries.extend(read_label_file(SHARED / "data" / split / folder / "gt.txt"))
    return entries


def load_crops(count: int, split: str = "real_val") -> list[Crop]:
    """``count`` real crops spread evenly over the split (repeating when it has fewer), decoded once."""
    entries = labelled_paths(split)
    picked = [
        entries[(i * len(entries)) // count] if count <= len(entries) else entries[i % len(entries)]
        for i in range(count)
    ]
    crops = []
    for batch in read_batches([e.path for e in picked], 64):
        if batch.failed:
            raise SystemExit(f"unreadable benchmark crop(s): {batch.failed}")
        crops += [
            Crop(image, picked[i].label, picked[i].path) for image, i in zip(batch.images, batch.positions, strict=True)
        ]
    return crops


def time_calls(
    fn: Callable[[], object], seconds: float, warmup: int = 2, min_calls: int = 3
) -> tuple[list[float], float]:
    """Call ``fn`` for ``seconds`` (at least ``min_calls`` times) after ``warmup`` calls; latencies and wall time."""
    for _ in range(warmup):
        fn()
    latencies: list[float] = []
    start = time.perf_counter()
    while len(latencies) < min_calls or time.perf_counter() - start < seconds:
        begin = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - begin)
    return latencies, time.perf_counter() - start


def time_parallel(
    fn: Callable[[], object], instances: int, seconds: float, warmup: int = 2
) -> tuple[list[float], float]:
    """``time_calls`` on ``instances`` threads at once (ONNX Runtime releases the GIL): every call's latency, and
    the wall time of the whole run."""
    if instances == 1:
        return time_calls(fn, seconds, warmup)
    for _ in range(warmup):
        fn()
    with ThreadPoolExecutor(instances) as pool:
        start = time.perf_counter()
        runs = list(pool.map(lambda _: time_calls(fn, seconds, warmup=0), range(instances)))
        wall = time.perf_counter() - start
    return [latency for latencies, _ in runs for latency in latencies], wall


def latency_stats(latencies: Sequence[float], items_per_call: int, wall: float) -> dict[str, float]:
    """Throughput (items/s over the wall time) and p50/p95/p99 of the per-call latency in milliseconds."""
    ms = np.asarray(latencies, dtype=np.float64) * 1000
    p50, p95, p99 = (float(np.percentile(ms, q)) for q in (50, 95, 99)) if len(ms) else (float("nan"),) * 3
    return {
        "calls": float(len(ms)),
        "items_per_s": len(ms) * items_per_call / wall if wall > 0 else 0.0,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
    }


def cpu_facts() -> dict[str, Any]:
    """CPU model, cores usable here, the SIMD/matrix extensions that matter for FP16/INT8/BF16, and the load."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags_line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    flags = set(flags_line.split(":", 1)[1].split()) if flags_line else set()
    cores = usable_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    others = busy_cores()
    return {
        "cpu": model,
        "cores": cores,
        "isa": {flag: flag in flags for flag in ISA_FLAGS},
        "load_1min": round(load, 2),
        "busy_cores": round(others, 2),
        "busy": others > 0.25 * (os.cpu_count() or 1),  # someone else was computing: the numbers are not final
        "python": platform.python_version(),
    }


def busy_cores(seconds: float = 2.0) -> float:
    """Cores other processes keep busy right now, from /proc/stat over ``seconds`` (this process is idle meanwhile).
    Unlike the 1-min load average it does not count the benchmark that ran just before."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    if not Path("/proc/stat").is_file():
        return 0.0
    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    share = (busy1 - busy0) / max(1, total1 - total0)  # of all CPUs of the machine
    return share * (os.cpu_count() or 1)


def machine_header(facts: dict[str, Any]) -> str:
    """A markdown paragraph on where the numbers come from."""
    isa = ", ".join(f"{name} {'yes' if present else 'no'}" for name, present in facts["isa"].items())
    busy = (
        " **The machine was busy (other processes used over a quarter of its CPUs): these numbers are not final.**"
        if facts["busy"]
        else ""
    )
    return (
        f"Machine: {facts['cpu']}, {facts['cores']} cores usable, Python {facts['python']}, "
        f"{facts.get('busy_cores', '?')} cores busy with other work at the start.{busy}\n\nCPU extensions: {isa}."
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; floats are printed with up to 4 significant digits."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "—" if math.isnan(value) else f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def dict_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str | Callable[[dict[str, Any]], object]]]
) -> str:
    """A markdown table of dict rows; each column is (header, key) or (header, function of the row)."""
    cells = [[row[how] if isinstance(how, str) else how(row) for _, how in columns] for row in rows]
    return markdown_table([header for header, _ in columns], cells)


def targets_table(targets: Sequence[Target]) -> str:
    """Each performance target next to the measured value."""
    verdict = {True: "yes", False: "**no**", None: "not measured"}
    return markdown_table(
        ["target", "goal", "measured", "met", "what bounds it"],
        [(t.name, t.goal, t.measured, verdict[t.met], t.bound) for t in targets],
    )


def write_results(out: Path, name: str, title: str, sections: Sequence[str], data: dict[str, Any]) -> Path:
    """``out/<name>.md`` (title, machine, sections) and ``out/<name>.json`` (``data`` + machine); returns the .md."""
    out.mkdir(parents=True, exist_ok=True)
    facts = cpu_facts() if "machine" not in data else data["machine"]
    payload = {"name": name, "written": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": facts, **data}
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    text = "\n\n".join([f"# {title}", machine_header(facts), *sections]) + "\n"
    path = out / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")
