"""How close each engine runs to the machine's arithmetic peak: the model's FLOPs per crop (counted from the graph),
the FP32 GEMM peak of one core (measured: a large single-threaded matrix product), and each engine's crops/s at
batch 32 on one thread, as a fraction of that peak.

    python -m benchmarks.peak [--model-dir models/rare_mv3_en]

FLOPs are multiply-adds x 2 of Conv, MatMul/Gemm and LSTM (with shapes from ONNX shape inference at batch 1); the
element-wise ops, GridSample and the softmaxes are not counted (they are memory-bound, and small here).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference

from benchmarks.common import base_parser, check_model_dir, cpu_facts, markdown_table, shown, write_results
from benchmarks.plots import save_bars
from rare.engines import ENGINES, available, open_engine
from rare.modelspec import ModelSpec

GEMM_N = 2048
PEAK_CODE = """
import sys, time, numpy as np
N = int(sys.argv[1])
a = np.random.default_rng(0).standard_normal((N, N), dtype=np.float32); b = a.T.copy()
a @ b
best = 0.0
for _ in range(5):
    t = time.perf_counter(); a @ b; best = max(best, 2 * N**3 / (time.perf_counter() - t))
print(best)
"""


def gemm_peak() -> float:
    """FP32 GFLOP/s of one core: the best of five N x N products in a process limited to one BLAS thread."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-c", PEAK_CODE, str(GEMM_N)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout) / 1e9


def _dims(value_info: dict[str, list[int]], name: str) -> list[int]:
    return value_info.get(name, [])


def model_flops(path: Path) -> float:
    """FLOPs of one crop: 2 x the multiply-adds of every Conv, MatMul, Gemm and LSTM."""
    model = onnx.load(str(path))
    graph_input = model.graph.input[0].type.tensor_type.shape.dim
    graph_input[0].dim_value = 1  # batch 1: every shape becomes concrete
    model = shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*model.graph.value_info, *model.graph.output, *model.graph.input)
    }
    shapes |= {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0.0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out, weight = (
                _dims(shapes, node.output[0]),
                _dims(shapes, node.input[1]),
            )  # [1, Co, H, W], [Co, Ci/g, kh, kw]
            total += 2 * np.prod(out) * np.prod(weight[1:]) if out and weight else 0
        elif node.op_type in ("MatMul", "Gemm"):
            a, out = _dims(shapes, node.input[0]), _dims(shapes, node.output[0])
            total += 2 * np.prod(out) * (a[-1] if a else 0)
        elif node.op_type == "LSTM":
            x, w, r = (_dims(shapes, n) for n in node.input[:3])  # X [T, 1, I], W [dirs, 4H, I], R [dirs, 4H, H]
            total += 2 * x[0] * w[0] * w[1] * (w[2] + r[2]) if x and w and r else 0
    return float(total)


def engine_rates(path: Path, batch: np.ndarray, seconds: float) -> dict[str, float]:
    """crops/s of each available engine, one thread, at this batch."""
    rates = {}
    for engine in (e for e in ENGINES if available(e)):
        run = open_engine(path, engine, threads=1, full_batch=len(batch))
        run(batch)
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            run(batch)
            calls += 1
        rates[engine] = calls * len(batch) / (time.perf_counter() - start)
    return rates


def main() -> None:
    args = base_parser(__doc__.split("\n\n")[0], seconds=3.0).parse_args()
    check_model_dir(args.model_dir)
    spec = ModelSpec.load(args.model_dir)
    path = args.model_dir / spec.onnx_file
    flops, peak = model_flops(path), gemm_peak()
    batch = np.random.default_rng(0).uniform(-1, 1, (32, *spec.image_shape)).astype(np.float32)
    rates = engine_rates(path, batch, args.seconds)
    rows = [(e, r, r * flops / 1e9, 100 * r * flops / 1e9 / peak) for e, r in rates.items()]
    bars = {engine: share for engine, _, _, share in rows}
    plot = save_bars(args.out / "peak.png", "Share of one core's FP32 GEMM peak (batch 32)", "% of peak", bars)
    sections = [
        f"Model: `{shown(args.model_dir)}`: {flops / 1e6:.1f} MFLOP per crop (Conv, MatMul/Gemm, LSTM). FP32 GEMM "
        f"peak of one core: {peak:.1f} GFLOP/s (numpy {GEMM_N}x{GEMM_N}, one BLAS thread). One thread, batch 32.",
        markdown_table(["engine", "crops/s", "GFLOP/s", "% of the FP32 peak"], rows),
        "What bounds the rate: a small fraction of the peak means the model's kernels are too small to use the "
        "core's vector units fully (depthwise convolutions of 8 to 240 channels, 1x1 convolutions on 1x25 maps, "
        "a 25-step GRU decoder run one step at a time), not its arithmetic. BF16 halves the bytes each kernel moves "
        "and doubles the products per instruction where the CPU has BF16 dot products.",
        f"![peak]({plot.name})",
    ]
    data = {"machine": cpu_facts(), "mflop_per_crop": flops / 1e6, "gemm_peak_gflops": peak, "rates": rates}
    write_results(args.out, "peak", "Model FLOPs and the machine's arithmetic peak", sections, data)
    print(f"{flops / 1e6:.1f} MFLOP/crop, peak {peak:.1f} GFLOP/s, rates {rates}")


if __name__ == "__main__":
    main()
