"""The engine gate records, in rare.json, the engines that read the validation crops as ONNX Runtime does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rare.engines import available
from rare.gates.engines import gate_engines
from rare.modelspec import ModelSpec
from tests.rare.gates.test_fp16 import small_val  # noqa: F401 - the fixture: two gt.txt folders of real crops


@pytest.mark.skipif(not available("openvino-fp32"), reason="OpenVINO is installed with the serve extra")
def test_gated_engines_are_recorded(calib_model_dir: Path, small_val: Path, tmp_path: Path) -> None:  # noqa: F811
    model = Path(shutil.copytree(calib_model_dir, tmp_path / "model"))
    reports = gate_engines(model, small_val)
    assert [r.candidate_name for r in reports][0] == "openvino-fp32" and all(r.passed for r in reports)
    engines = ModelSpec.load(model).engines
    assert set(engines) == {r.candidate_name for r in reports}
    assert engines["openvino-fp32"] == {"drop_points": 0.0, "validated_on": small_val.name, "full_batch": 32}
    assert "OpenVINO CPU" in reports[0].render()  # the worse of its two compiles (static and dynamic batch)
