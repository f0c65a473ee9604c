"""``python -m build_engine``: write a Triton model repository, or ``verify`` the FP16 graph.

python -m build_engine --model-dir DIR --target {python,onnxruntime,tensorrt} [options]
python -m build_engine verify --model-dir DIR [--val-dir ../shared/data/real_val]
python -m build_engine quantize --model-dir DIR --out INT8_DIR [--calib-dir ../shared/data/real_train]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from build_engine.triton_config import TARGETS, ServingOptions
from build_engine.trt_engine import EngineOptions
from rare.engines import ENGINES
from rare.errors import RareError
from rare.modelspec import ModelSpec

log = logging.getLogger("build_engine")

DESCRIPTION = """\
Write a ready Triton model repository REPO/<name>/ (config.pbtxt, rare.json, 1/<model files>) from an exported
model directory (model.onnx + rare.json).

targets:
  python       Python backend running ONNX Runtime (or OpenVINO, --engine) on CPU (works with the CPU tritonserver of
               nvidia-pytriton)
  onnxruntime  Triton's onnxruntime backend (KIND_CPU, or KIND_GPU with --gpu)
  openvino     Triton's openvino backend on the OpenVINO IR (--engine openvino-bf16 runs it in BF16)
  cpu          onnxruntime or openvino, whichever engine the model is gated for runs fastest on this machine
  tensorrt     FP16 TensorRT engine <version>/model.plan (needs a GPU and the tensorrt package)

Also: python -m build_engine verify --model-dir DIR  (FP16 vs FP32 word accuracy on real_val)
      python -m build_engine quantize --model-dir DIR --out INT8_DIR  (INT8 model directory for CPU targets)
"""

PAIRING_EPILOG = """\
TensorRT/Triton pairing rule: a TensorRT engine only loads in the TensorRT version (and on the GPU
architecture) that built it. Build the engine inside nvcr.io/nvidia/tensorrt:<release>-py3, the same
release as the Triton image (e.g. tensorrt:25.01-py3 for tritonserver:25.01-py3), on the GPU model
that will serve it.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m build_engine",
        description=DESCRIPTION,
        epilog=PAIRING_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="exported model: model.onnx + rare.json")
    parser.add_argument(
        "--target", required=True, choices=(*TARGETS, "cpu"), help="cpu: the fastest gated CPU engine on this machine"
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"), help="model repository root")
    parser.add_argument("--name", default="rare", help="model name (folder under the repository)")
    parser.add_argument("--version", default=None, help="version directory to write (default: rare.json's)")
    parser.add_argument(
        "--engine-cache", type=Path, default=None, help="keep built versions here, keyed by model, GPU, TensorRT, flags"
    )
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--instances", type=int, default=1, help="instance_group count")
    parser.add_argument("--max-queue-delay-us", type=int, default=2000, help="dynamic batcher wait for more requests")
    parser.add_argument("--max-queue-size", type=int, default=512, help="queue bound; beyond it requests are rejected")
    parser.add_argument("--queue-timeout-us", type=int, default=0, help="default queue timeout (0: none), REJECT")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per CPU instance")
    parser.add_argument("--gpu", action="store_true", help="onnxruntime target: KIND_GPU instead of KIND_CPU")
    parser.add_argument(
        "--engine",
        default="onnxruntime",
        choices=ENGINES,
        help="python target: the engine model.py runs; openvino target: its precision (openvino-fp32 or -bf16)",
    )
    group = parser.add_argument_group("tensorrt target")
    group.add_argument("--workspace-mib", type=int, default=1024, help="builder workspace limit")
    group.add_argument("--opt-batch", type=int, default=16, help="optimization profile opt batch (min 1, max = max)")
    group.add_argument("--timing-cache", type=Path, default=None, help="timing cache file, loaded and saved")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def build_verify_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m build_engine verify",
        description="Convert model.onnx to FP16 (model_fp16.onnx) and compare FP32 and FP16 word accuracy with "
        "ONNX Runtime (CPU) on every gt.txt folder under --val-dir; exits 1 if FP16 loses more than 0.1 point.",
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="exported model: model.onnx + rare.json")
    parser.add_argument("--val-dir", type=Path, default=Path("../shared/data/real_val"))
    parser.add_argument("--fp16-out", type=Path, default=None, help="FP16 ONNX to write (default MODEL_DIR/...)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def build_quantize_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m build_engine quantize",
        description="Write an INT8 model directory (dynamic, or static QDQ calibrated on real crops) for the embedded "
        "backend and the python/onnxruntime targets; written only if it loses at most --max-drop points of word "
        "accuracy against FP32 on every gt.txt folder under --val-dir (exit 1 otherwise).",
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="exported model: model.onnx + rare.json")
    parser.add_argument("--out", required=True, type=Path, help="INT8 model directory to write (replaced)")
    parser.add_argument(
        "--method",
        choices=("dynamic", "static"),
        default="dynamic",
        help="dynamic: INT8 weights of MatMul/Gemm/LSTM, no calibration; static: QDQ everywhere, calibrated",
    )
    parser.add_argument(
        "--calib-dir", type=Path, default=Path("../shared/data/real_train"), help="gt.txt folders (static)"
    )
    parser.add_argument("--calib-crops", type=int, default=256, help="calibration crops, spread over --calib-dir")
    parser.add_argument(
        "--keep-fp32-layers",
        type=int,
        default=0,
        metavar="K",
        help="static: keep the K layers least tolerant of INT8 in FP32, found by a per-layer sweep on the "
        "calibration crops (0: no sweep)",
    )
    parser.add_argument("--val-dir", type=Path, default=Path("../shared/data/real_val"))
    parser.add_argument("--max-drop", type=float, default=0.5, help="word accuracy points INT8 may lose")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def cpu_target(model_dir: Path) -> tuple[str, str]:
    """``--target cpu``: Triton's onnxruntime backend, or its openvino backend on the fastest engine the model is
    gated for (rare.json), measured on this machine as the embedded backend does."""
    from rare.engines import fastest

    spec = ModelSpec.load(model_dir)
    sample = np.zeros((32, *spec.image_shape), np.float32)
    best, rates = fastest(model_dir / spec.onnx_file, ["onnxruntime", *spec.engines], sample)
    log.info("CPU engines here (crops/s, one thread): %s; building for %s", rates, best)
    return ("onnxruntime", "onnxruntime") if best == "onnxruntime" else ("openvino", best)


def run_build(args: argparse.Namespace) -> int:
    from build_engine.repository import write_repository

    target, runtime = cpu_target(args.model_dir) if args.target == "cpu" else (args.target, args.engine)
    options = ServingOptions(
        engine=runtime,
        name=args.name,
        max_batch_size=args.max_batch_size,
        instances=args.instances,
        max_queue_delay_us=args.max_queue_delay_us,
        max_queue_size=args.max_queue_size,
        queue_timeout_us=args.queue_timeout_us,
        gpu=args.gpu,
        threads=args.threads,
    )
    engine = EngineOptions(opt_batch=args.opt_batch, workspace_mib=args.workspace_mib, timing_cache=args.timing_cache)
    write_repository(args.model_dir, args.repository, target, options, engine, args.version, args.engine_cache)
    return 0


def build_versions_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m build_engine versions",
        description="Choose which versions of a repository's model Triton serves (rewrites its version policy): "
        "--serve latest (the highest), or --serve 1 (a rollback) / --serve 1,2.",
    )
    parser.add_argument("--repository", required=True, type=Path, help="the Triton model repository")
    parser.add_argument("--name", default="rare", help="model name (folder under the repository)")
    parser.add_argument("--serve", required=True, help="latest, or a comma list of versions")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def run_versions(args: argparse.Namespace) -> int:
    from build_engine.versions import serve_versions

    present = serve_versions(args.repository, args.name, args.serve)
    sys.stdout.write(f"{args.repository / args.name}: serving {args.serve} of versions {present}\n")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Convert the model to FP16 (build_engine.fp16), then gate it on word accuracy (rare.gates.fp16)."""
    from build_engine.fp16 import convert_to_fp16
    from rare.gates.fp16 import compare_fp16

    spec = ModelSpec.load(args.model_dir)
    fp16_path = args.fp16_out or args.model_dir / "model_fp16.onnx"
    result = convert_to_fp16(args.model_dir / spec.onnx_file, fp16_path)
    log.info("FP16 graph %s: %d nodes kept in FP32", fp16_path, len(result.fp32_nodes))
    report = compare_fp16(args.model_dir, fp16_path, args.val_dir, args.threads)
    sys.stdout.write(report.render() + "\n")
    return 0 if report.passed else 1


def run_quantize(args: argparse.Namespace) -> int:
    from build_engine.quantize import quantize

    report = quantize(
        args.model_dir,
        args.out,
        args.calib_dir,
        args.val_dir,
        args.calib_crops,
        args.threads,
        args.max_drop,
        args.method,
        args.keep_fp32_layers,
    )
    sys.stdout.write(report.render() + "\n")
    sys.stdout.write(f"wrote {args.out}\n" if report.passed else f"nothing written to {args.out}\n")
    return 0 if report.passed else 1


def build_engines_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m build_engine engines",
        description="Gate the CPU engines this machine has (OpenVINO FP32, BF16) against ONNX Runtime FP32 on every "
        "gt.txt folder under --val-dir, and record those within --max-drop points in MODEL_DIR/rare.json: the "
        "embedded backend serves only recorded engines, the fastest of them here (RARE_ENGINE=auto).",
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="exported model: model.onnx + rare.json")
    parser.add_argument("--val-dir", type=Path, default=Path("../shared/data/real_val"))
    parser.add_argument("--max-drop", type=float, default=0.5, help="word accuracy points an engine may lose")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def run_engines(args: argparse.Namespace) -> int:
    from rare.gates.engines import gate_engines

    for report in gate_engines(args.model_dir, args.val_dir, args.max_drop):
        sys.stdout.write(report.render() + "\n\n")
    recorded = ModelSpec.load(args.model_dir).engines
    sys.stdout.write(f"{args.model_dir}/rare.json: engines {sorted(recorded) or 'none'} besides onnxruntime\n")
    return 0


SUBCOMMANDS = {
    "engines": (build_engines_parser, run_engines),
    "versions": (build_versions_parser, run_versions),
    "verify": (build_verify_parser, run_verify),
    "quantize": (build_quantize_parser, run_quantize),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else "build"
    make_parser, run = SUBCOMMANDS.get(command, (build_parser, run_build))
    args = make_parser().parse_args(argv[1:] if command in SUBCOMMANDS else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return run(args)
    except RareError as exc:
        sys.stderr.write(f"build_engine {command}: error: {exc}\n")
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"build_engine {command}: error: {where}{exc.strerror or exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"build_engine {command}: interrupted\n")
        return 130
