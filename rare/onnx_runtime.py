"""Recognition with ONNX Runtime on an exported model directory (torch-free: ``rare infer`` and the gateway)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rare.codec import Recognition, ids_and_scores
from rare.engines import Plan, describe, open_plan
from rare.modelspec import ModelSpec, ModelSpecError, TensorSpec

ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
}

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")  # cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us


def cpu_quota(cpu_max: Path = CGROUP_CPU_MAX, v1_dir: Path = CGROUP_V1_CPU) -> float | None:
    """The container's CPU limit in cores (cgroup v2, else v1), or None when there is none or it cannot be read."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (v1_dir / "cpu.cfs_quota_us").read_text().strip()
            period = (v1_dir / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        cores = int(quota) / int(period)
    except (ValueError, ZeroDivisionError):  # "max", "-1" below, or a garbled file
        return None
    return cores if cores > 0 else None


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX, v1_dir: Path = CGROUP_V1_CPU) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup CPU quota (a container's CPU limit,
    e.g. Kubernetes ``limits.cpu: 2`` on a 64-core node gives 2)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota(cpu_max, v1_dir)
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


def session_options(threads: int = 0) -> ort.SessionOptions:
    """Full graph optimization; ``threads`` intra-op threads (0: one per usable core)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads if threads > 0 else usable_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def tensor_specs(nodes: Sequence[ort.NodeArg]) -> list[TensorSpec]:
    """ONNX Runtime's view of graph inputs/outputs, with symbolic dimensions as -1."""
    return [
        TensorSpec(n.name, ORT_DTYPES.get(n.type, n.type), [d if isinstance(d, int) else -1 for d in n.shape])
        for n in nodes
    ]


class OnnxRecognizer:
    """Preprocess -> the graph -> decode, for one model directory (``model.onnx`` + ``rare.json``), on ONNX Runtime
    or on another engine of :mod:`rare.engines` (``engine``), or on a per-batch-size :data:`~rare.engines.Plan`;
    OpenVINO engines also compile the graph for exactly ``full_batch`` crops (:func:`rare.engines.open_engine`)."""

    def __init__(
        self,
        model_dir: str | Path,
        threads: int = 0,
        spec: ModelSpec | None = None,
        engine: str | Plan = "onnxruntime",
        streams: int = 1,
        full_batch: int | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.spec = spec if spec is not None else ModelSpec.load(self.model_dir)
        plan = ((1, engine),) if isinstance(engine, str) else tuple(engine)
        self.engine = describe(plan)
        onnx_path = self.model_dir / self.spec.onnx_file
        if not onnx_path.is_file():
            raise ModelSpecError(f"{onnx_path}: ONNX file not found")
        self.codec = self.spec.codec()
        self.roles = self.spec.fetched_roles()
        self.fetch = [self.spec.outputs[role].name for role in self.roles]
        if self.engine == "onnxruntime":
            self.session = ort.InferenceSession(
                str(onnx_path), session_options(threads), providers=["CPUExecutionProvider"]
            )
            self.spec.check_io(tensor_specs(self.session.get_inputs()), tensor_specs(self.session.get_outputs()))
        else:
            self._run = open_plan(onnx_path, plan, threads if threads > 0 else usable_cores(), streams, full_batch)
            self.infer(np.zeros((1, *self.spec.image_shape), np.float32))  # compiles, and checks the outputs exist

    def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 [N, 3, 32, 100] -> per-step class ids [N, 25] and their probabilities [N, 25]."""
        if self.engine == "onnxruntime":
            results = self.session.run(self.fetch, {self.spec.input.name: batch})
        else:
            outputs = self._run(batch)
            missing = [name for name in self.fetch if name not in outputs]
            if missing:
                raise ModelSpecError(f"{self.model_dir}: the graph has no output {missing} on {self.engine}")
            results = [outputs[name] for name in self.fetch]
        return ids_and_scores(dict(zip(self.roles, results, strict=True)))

    def recognize(self, images: Sequence[np.ndarray], stop_at_eos: bool = True) -> list[Recognition]:
        """BGR crops (any size) -> text, confidence and per-character confidences, in input order."""
        if not images:
            return []
        batch, owners = self.spec.preprocess_views(images)  # tall crops give three rows (rare.orientation)
        ids, scores = self.infer(batch)
        return self.spec.orientation.choose(self.codec.decode_ids(ids, scores, stop_at_eos), owners)
