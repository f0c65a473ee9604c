"""PaddleOCR SimpleDataSet label files: ``<image path relative to data_dir>\t<label>`` per line (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rare.errors import RareError


class LabelFileError(RareError, ValueError):
    """A label file is missing or has a malformed line."""


@dataclass(frozen=True)
class LabeledPath:
    path: Path
    label: str


def read_label_file(
    label_file: str | Path, data_dir: str | Path | None = None, delimiter: str = "\t"
) -> list[LabeledPath]:
    """Entries of one label file; relative paths resolve against ``data_dir`` (default: the file's folder)."""
    label_file = Path(label_file)
    if not label_file.is_file():
        raise LabelFileError(f"{label_file}: label file not found")
    root = Path(data_dir) if data_dir else label_file.parent
    entries = []
    for number, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, label = line.partition(delimiter)
        if not sep:
            raise LabelFileError(f"{label_file}:{number}: expected '<path>{delimiter!r}<label>', got {line[:80]!r}")
        entries.append(LabeledPath(root / name, label))
    return entries


def dataset_name(label_file: str | Path) -> str:
    """A readable name for a label file: its folder name (``real_val/IC15/gt.txt`` -> ``IC15``)."""
    path = Path(label_file)
    return path.parent.name if path.name in ("gt.txt", "label.txt", "labels.txt") else path.stem
