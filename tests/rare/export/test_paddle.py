"""rare convert-paddle: the real file converts; bad files fail in one line, exit non-zero, and write nothing."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rare.export.paddle import PaddleImportError, read_pdparams
from tests.conftest import FIXTURES, MV3_CONFIG, R34_CONFIG


def run_convert(config: Path, pdparams: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rare",
            "convert-paddle",
            "--config",
            str(config),
            "--pdparams",
            str(pdparams),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_reads_without_paddle_and_drops_bookkeeping() -> None:
    params = read_pdparams(FIXTURES / "rare_mv3_calib.pdparams")
    assert "StructuredToParameterName@@" not in params and len(params) == 335
    assert all(isinstance(v, np.ndarray) for v in params.values())


def test_convert_writes_a_project_checkpoint(calib_checkpoint: Path) -> None:
    from rare.export.checkpoint import read_checkpoint

    payload = read_checkpoint(calib_checkpoint)
    assert payload["charset"] == list("0123456789abcdefghijklmnopqrstuvwxyz")
    assert payload["config"]["Architecture"]["Backbone"]["name"] == "MobileNetV3"
    assert payload["state_dict"]["head.generator.weight"].shape == (38, 96)  # transposed from [96, 38]


class _Exploit:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


def _bad_files(tmp: Path) -> dict[str, tuple[Path, Path, str]]:
    real = (FIXTURES / "rare_mv3_calib.pdparams").read_bytes()
    truncated = tmp / "truncated.pdparams"
    truncated.write_bytes(real[: len(real) // 2])
    exploit = tmp / "exploit.pdparams"
    exploit.write_bytes(pickle.dumps({"x": _Exploit()}, protocol=4))
    return {
        "truncated": (MV3_CONFIG, truncated, "truncated or not a PaddleOCR .pdparams"),
        "code": (MV3_CONFIG, exploit, "refusing to load builtins.print"),
        "other config": (
            R34_CONFIG,
            FIXTURES / "rare_mv3_calib.pdparams",
            "holds a rec_mv3_tps_bilstm_att model but the config builds rec_r34_vd_tps_bilstm_att",
        ),
        "missing": (MV3_CONFIG, tmp / "nope.pdparams", "file not found"),
    }


@pytest.mark.parametrize("case", ["truncated", "code", "other config", "missing"])
def test_bad_inputs_fail_in_one_line_and_write_nothing(tmp_path: Path, case: str) -> None:
    config, pdparams, message = _bad_files(tmp_path)[case]
    out = tmp_path / "out" / "model.pt"
    result = run_convert(config, pdparams, out)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(pdparams.name) in lines[0], result.stderr
    assert "pwned" not in result.stdout
    assert not out.exists() and not any((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_shape_mismatch_and_unused_keys_are_named() -> None:
    import torch

    from rare.config import load_config
    from rare.export.paddle import paddle_to_state_dict
    from rare.model import build_model

    model = build_model(load_config(MV3_CONFIG).Architecture, 38)
    params = read_pdparams(FIXTURES / "rare_mv3_calib.pdparams")
    params["head.generator.bias"] = np.zeros(39, np.float32)
    params["extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(PaddleImportError) as err:
        paddle_to_state_dict(params, model)
    assert "shape mismatch for head.generator.bias: file [39], model [38]" in str(err.value)
    assert "unused key extra.weight" in str(err.value)
    del params["extra.weight"], params["head.generator.bias"]
    with pytest.raises(PaddleImportError, match="missing key head.generator.bias"):
        paddle_to_state_dict(params, model)
    assert isinstance(model, torch.nn.Module)
