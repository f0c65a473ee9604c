from pathlib import Path

import numpy as np
import pytest

from rare.codec import ids_and_scores
from rare.engines import available, open_engine
from rare.images import read_image
from rare.modelspec import ModelSpec
from tests.benchmarks.conftest import Bench
from tests.conftest import val_crops

pytestmark = pytest.mark.skipif(not available("openvino-fp32"), reason="OpenVINO is part of the dev install")


def test_int8_graphs_are_measured_against_fp32_and_bf16(bench: Bench, calib_model_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "ov"
    flags = f"--calib-crops 32 --val-crops 16 --seconds 0.05 --threads 1 --instances 1 --work {work}"
    data = bench("openvino_int8", calib_model_dir, flags)
    names = [row["variant"] for row in data["rows"]]
    assert names[0] == "ov-fp32" and "ov-int8-conv+fp32" in names and "ov-int8-all+fp32" in names
    assert ("ov-bf16" in names) == available("openvino-bf16")
    assert all(row["items_per_s"] > 0 and 0 <= row["accuracy"] <= 100 for row in data["rows"])
    assert [t["name"] for t in data["targets"]] == [f"OpenVINO INT8 {n}" for n in names if n.startswith("ov-int8")]
    spec = ModelSpec.load(calib_model_dir)
    batch = spec.preprocess([read_image(path) for path, _ in val_crops(count=2)])
    ids, scores = ids_and_scores(open_engine(work / "ov-int8-conv" / "model.xml", "openvino-fp32", threads=1)(batch))
    assert ids.shape == scores.shape == (2, 25) and np.all((scores >= 0) & (scores <= 1))
