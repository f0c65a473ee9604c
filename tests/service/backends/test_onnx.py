"""The embedded backend's engine choice: ``auto`` measures the model's gated engines by batch size and serves on
that plan; a named engine is served as named; a model gated for none stays on ONNX Runtime."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from rare.engines import ENGINES, available, parse_plan
from rare.images import read_image
from rare.modelspec import ModelSpec
from service.backends.onnx import OnnxBackend
from service.settings import Settings
from tests.conftest import REPO, val_crops

SHIPPED = REPO / "models" / "rare_mv3_en"


def served(model_dir: Path, engine: str) -> tuple[str, list[int]]:
    """The backend's engine after start, and the ids of one real crop read through it."""
    spec = ModelSpec.load(model_dir)
    batch = spec.preprocess([read_image(val_crops("IIIT5K", 1)[0][0])])

    async def main() -> tuple[str, list[int]]:
        backend = OnnxBackend(Settings(model_dir=model_dir, engine=engine, max_batch_size=8))
        await backend.start()
        try:
            assert (await backend.status()).ready
            answer = await backend.infer(batch)
            return backend.kind, np.asarray(answer.ids)[0].tolist()
        finally:
            await backend.close()

    return asyncio.run(main())


@pytest.mark.skipif(not available("openvino-fp32"), reason="needs OpenVINO")
def test_auto_serves_on_a_measured_plan_of_the_gated_engines_and_reads_the_same() -> None:
    spec = ModelSpec.load(SHIPPED)
    assert spec.engines, "the shipped model is gated for OpenVINO (python -m build_engine engines)"
    kind, ids = served(SHIPPED, "auto")
    plan = parse_plan(kind)
    assert plan[0][0] == 1 and {engine for _, engine in plan} <= {"onnxruntime", *spec.engines} & set(ENGINES)
    assert served(SHIPPED, "onnxruntime") == ("onnxruntime", ids)


def test_a_model_gated_for_no_other_engine_stays_on_onnx_runtime(calib_model_dir: Path) -> None:
    assert not ModelSpec.load(calib_model_dir).engines
    assert served(calib_model_dir, "auto")[0] == "onnxruntime"
