"""The INT8 gate (``python -m build_engine quantize``): an INT8 model directory is written only if it reads the
validation crops within ``max_drop`` points of the FP32 model's word accuracy."""

from __future__ import annotations

from pathlib import Path

from rare.gates.report import GateReport, label_files, labelled_batches
from rare.labelfile import dataset_name
from rare.metrics import RecMetric
from rare.onnx_runtime import OnnxRecognizer

MAX_DROP_POINTS = 0.5


def compare_int8(
    fp32_dir: Path, int8_dir: Path, val_dir: Path, threads: int = 1, max_drop: float = MAX_DROP_POINTS
) -> GateReport:
    """Both model directories read every ``gt.txt`` folder under ``val_dir``."""
    report = GateReport("INT8", max_drop)
    recognizers = (OnnxRecognizer(fp32_dir, threads), OnnxRecognizer(int8_dir, threads))
    spec = recognizers[0].spec
    for label_file in label_files(val_dir):
        name = dataset_name(label_file)
        for table, recognizer in zip((report.reference, report.candidate), recognizers, strict=True):
            metric = table.setdefault(name, RecMetric())
            for images, labels, _ in labelled_batches(label_file, spec, 64):
                ids, scores = recognizer.infer(images)
                metric.update([r.text for r in recognizer.codec.decode_ids(ids, scores)], labels)
    return report
