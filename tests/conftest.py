"""Shared fixtures: paths to ../shared, and the PaddleOCR calibration model converted and exported once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RARE_SHARED_DIR", REPO.parent / "shared")).resolve()
FIXTURES = SHARED / "fixtures" / "paddle_rare"
REAL_VAL = SHARED / "data" / "real_val"
REAL_TRAIN = SHARED / "data" / "real_train"
MV3_CONFIG = REPO / "configs" / "rec_mv3_tps_bilstm_att.yml"
R34_CONFIG = REPO / "configs" / "rec_r34_vd_tps_bilstm_att.yml"


def pytest_configure(config: pytest.Config) -> None:
    if not FIXTURES.is_dir():
        raise pytest.UsageError(f"shared fixtures not found at {FIXTURES}; set RARE_SHARED_DIR")


@pytest.fixture(scope="session")
def calib_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rare convert-paddle of the calibration .pdparams (MobileNetV3 config)."""
    pytest.importorskip("torch")
    from rare.export.commands import convert_paddle

    out = tmp_path_factory.mktemp("calib") / "mv3_calib.pt"
    convert_paddle(str(MV3_CONFIG), str(FIXTURES / "rare_mv3_calib.pdparams"), str(out), [])
    return out


@pytest.fixture(scope="session")
def calib_model_dir(calib_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rare export of the converted calibration checkpoint: model.onnx + rare.json."""
    from rare.export.commands import export

    out = tmp_path_factory.mktemp("calib_export")
    export(
        str(MV3_CONFIG),
        [
            f"Global.pretrained_model={calib_checkpoint}",
            f"Global.save_inference_dir={out}",
            "Global.model_name=rare_calib",
        ],
    )
    return out


def val_crops(folder: str = "IIIT5K", count: int = 8) -> list[tuple[Path, str]]:
    """The first ``count`` (image path, label) pairs of a real_val folder."""
    from rare.labelfile import read_label_file

    entries = read_label_file(REAL_VAL / folder / "gt.txt")[:count]
    return [(e.path, e.label) for e in entries]
