"""The engine gate (``python -m build_engine engines``): may this model run on OpenVINO (FP32, BF16)?

Each engine this machine has reads every crop of the validation folders; an engine that loses at most
``max_drop`` points of word accuracy against ONNX Runtime FP32 is recorded in ``rare.json`` (``engines``), and
only recorded engines are ever served (:func:`rare.engines.fastest` picks among them). OpenVINO engines are read
both on the graph compiled for exactly ``FULL_BATCH`` crops and on the dynamic one; the record names that batch
size (``full_batch``), and the gateway compiles the static graph only when its max batch is the gated one.
"""

from __future__ import annotations

from pathlib import Path

from rare.engines import ENGINES, available
from rare.gates.report import GateReport, label_files, labelled_batches
from rare.labelfile import dataset_name
from rare.metrics import RecMetric
from rare.modelspec import ModelSpec
from rare.onnx_runtime import OnnxRecognizer

MAX_DROP_POINTS = 0.5
FULL_BATCH = 32  # the gateway's default RARE_MAX_BATCH_SIZE: OpenVINO also compiles the graph for it (static shape)


def compare_engine(model_dir: Path, engine: str, val_dir: Path, max_drop: float = MAX_DROP_POINTS) -> GateReport:
    """ONNX Runtime FP32 and ``engine`` on every ``gt.txt`` folder under ``val_dir``, read twice: in batches of
    :data:`FULL_BATCH` (the static compile of OpenVINO's graph) and one crop short of it (the dynamic one); the
    worse reading is the engine's."""
    reports = [_compare(model_dir, engine, val_dir, max_drop, size) for size in (FULL_BATCH, FULL_BATCH - 1)]
    return max(reports, key=lambda r: r.drop_points)


def _compare(model_dir: Path, engine: str, val_dir: Path, max_drop: float, batch_size: int) -> GateReport:
    compile_ = "static" if batch_size == FULL_BATCH else "dynamic"
    report = GateReport(engine, max_drop, candidate_runtime=f"OpenVINO CPU, {compile_} batch")
    candidate = OnnxRecognizer(model_dir, 1, engine=engine, full_batch=FULL_BATCH)
    recognizers = (OnnxRecognizer(model_dir, 1), candidate)
    for label_file in label_files(val_dir):
        name = dataset_name(label_file)
        for table, recognizer in zip((report.reference, report.candidate), recognizers, strict=True):
            metric = table.setdefault(name, RecMetric())
            for images, labels, _ in labelled_batches(label_file, recognizer.spec, batch_size):
                ids, scores = recognizer.infer(images)
                metric.update([r.text for r in recognizer.codec.decode_ids(ids, scores)], labels)
    return report


def gate_engines(model_dir: Path, val_dir: Path, max_drop: float = MAX_DROP_POINTS) -> list[GateReport]:
    """Gate every engine this machine has; record those that pass in ``model_dir/rare.json`` (replacing the list)."""
    spec = ModelSpec.load(model_dir)
    reports = [compare_engine(model_dir, e, val_dir, max_drop) for e in ENGINES[1:] if available(e)]
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
