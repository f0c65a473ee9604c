from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from rare.config import load_config  # noqa: E402
from rare.export.checkpoint import CheckpointError, model_from_checkpoint, read_checkpoint  # noqa: E402
from tests.conftest import MV3_CONFIG  # noqa: E402


def _shifted(source: Path, out: Path, by: float, step: int) -> Path:
    """A copy of ``source`` with every floating-point weight moved by ``by`` and its batch counters set to ``step``."""
    payload = read_checkpoint(source)
    payload["state_dict"] = {
        key: value + by if value.is_floating_point() else torch.full_like(value, step)
        for key, value in payload["state_dict"].items()
    }
    payload["step"] = step
    torch.save(payload, out)
    return out


def test_rare_average_writes_the_mean_that_loads_as_a_model(calib_checkpoint: Path, tmp_path: Path) -> None:
    low = _shifted(calib_checkpoint, tmp_path / "low.pt", -0.25, 100)
    high = _shifted(calib_checkpoint, tmp_path / "high.pt", 0.75, 200)
    out = tmp_path / "mean.pt"
    result = subprocess.run(
        [sys.executable, "-m", "rare", "average", str(low), str(high), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    original, mean = read_checkpoint(calib_checkpoint), read_checkpoint(out)
    for key, value in original["state_dict"].items():
        if value.is_floating_point():  # (w - 0.25 + w + 0.75) / 2 = w + 0.25, running statistics included
            torch.testing.assert_close(mean["state_dict"][key], value + 0.25)
        else:  # batch counters: the last checkpoint's
            assert int(mean["state_dict"][key]) == 200
    assert mean["step"] == 200 and "optimizer" not in mean
    assert mean["source"] == f"average of {low}, {high}" and mean["charset"] == original["charset"]
    model, codec, _ = model_from_checkpoint(out, load_config(MV3_CONFIG))
    assert codec.characters == original["charset"] and sum(p.numel() for p in model.parameters()) > 0


def test_rare_average_refuses_one_checkpoint_and_different_models(calib_checkpoint: Path, tmp_path: Path) -> None:
    from rare.export.average import average_checkpoints

    with pytest.raises(CheckpointError, match="at least two"):
        average_checkpoints([calib_checkpoint], tmp_path / "one.pt")
    other = read_checkpoint(calib_checkpoint)
    other["state_dict"].pop(next(iter(other["state_dict"])))
    torch.save(other, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not the same model"):
        average_checkpoints([calib_checkpoint, tmp_path / "other.pt"], tmp_path / "out.pt")
    other = read_checkpoint(calib_checkpoint)
    other["charset"] = other["charset"][:-1]
    torch.save(other, tmp_path / "fewer.pt")
    with pytest.raises(CheckpointError, match="fewer.pt: its charset differs"):
        average_checkpoints([calib_checkpoint, tmp_path / "fewer.pt"], tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
