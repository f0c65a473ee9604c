"""The engine gate (``python -m build_engine engines``): may this model run on OpenVINO (FP32, BF16)?

Each engine this machine has reads every crop of the validation folders; an engine that loses at most
``max_drop`` points of word accuracy against ONNX Runtime FP32 is recorded in ``rare.json`` (``engines``), and
only recorded engines are ever served (:func:`rare.engines.fastest` picks among them). OpenVINO engines are read
both on the graph compiled for exactly ``FULL_BATCH`` crops and on the dynamic one; the record names that batch
size (``full_batch``), and the gateway compiles the static graph only when its max batch is the gated one.
"""

from __future__ import annotations

from pathlib import Path

from rare.engines import ENGINES, FULL_BATCH, available
from rare.gates.report import GateReport, label_files, labelled_batches
from rare.labelfile import dataset_name
from rare.metrics import RecMetric
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer

MAX_DROP_POINTS = 0.5


def compare_engine(
    model_dir: Path,
    engine: str,
    val_dir: Path,
    max_drop: float = MAX_DROP_POINTS,
    reference: dict[str, RecMetric] | None = None,
) -> GateReport:
    """ONNX Runtime FP32 (``reference``, read here when not given) and ``engine`` on every ``gt.txt`` folder under
    ``val_dir``, the engine read twice: in batches of :data:`FULL_BATCH` (the static compile of OpenVINO's graph)
    and one crop short of it (the dynamic one); the worse reading is the engine's."""
    if reference is None:
        reference = read_folders(OnnxRecognizer(model_dir, 1), val_dir, FULL_BATCH)
    candidate = OnnxRecognizer(model_dir, 1, engine=engine, full_batch=FULL_BATCH)
    reports = []
    for size in (FULL_BATCH, FULL_BATCH - 1):
        compile_ = "static" if size == FULL_BATCH else "dynamic"
        report = GateReport(engine, max_drop, reference, candidate_runtime=f"OpenVINO CPU, {compile_} batch")
        report.candidate = read_folders(candidate, val_dir, size)
        reports.append(report)
    return max(reports, key=lambda r: r.drop_points)


def read_folders(recognizer: OnnxRecognizer, val_dir: Path, batch_size: int) -> dict[str, RecMetric]:
    """Word accuracy of ``recognizer`` on every ``gt.txt`` folder under ``val_dir``, ``batch_size`` crops a call."""
    metrics = {}
    for label_file in label_files(val_dir):
        metric = metrics.setdefault(dataset_name(label_file), RecMetric())
        for images, labels, _ in labelled_batches(label_file, recognizer.spec, batch_size):
            ids, scores = recognizer.infer(images)
            metric.update([r.text for r in recognizer.codec.decode_ids(ids, scores)], labels)
    return metrics


def gate_engines(model_dir: Path, val_dir: Path, max_drop: float = MAX_DROP_POINTS) -> list[GateReport]:
    """Gate every engine this machine has; record those that pass in ``model_dir/rare.json`` (replacing the list)."""
    spec = ModelSpec.load(model_dir)
    reference = read_folders(OnnxRecognizer(model_dir, 1), val_dir, FULL_BATCH)  # ONNX Runtime FP32, read once
    reports = [compare_engine(model_dir, e, val_dir, max_drop, reference) for e in ENGINES[1:] if available(e)]
    spec.engines = {
        r.candidate_name: {
            "drop_points": round(r.drop_points, 2),
            "validated_on": val_dir.name,
            "full_batch": FULL_BATCH,
        }
        for r in reports
        if r.passed
    }
    spec.save(model_dir)
    return reports
