"""The per-layer INT8 sweep on the shipped graph: layers by module path, each quantized alone, ranked."""

import math
from pathlib import Path

import onnx
import pytest

from build_engine.fp16 import fp32_node_names
from build_engine.quantize import CalibrationBatches, calibration_batches
from build_engine.sensitivity import (
    LayerSensitivity,
    keep_least_tolerant,
    layer_of,
    layers,
    prepare,
    static_int8,
    sweep,
)
from rare.modelspec import ModelSpec
from tests.conftest import REAL_TRAIN, REPO

SHIPPED = REPO / "models" / "rare_mv3_en"


def test_a_layer_is_a_module_path_with_the_decoder_steps_folded() -> None:
    assert layer_of("/model/head/attention_cell_7/Gemm") == "/model/head/attention_cell"
    assert layer_of("/model/head/attention_cell/h2h_3/Gemm") == "/model/head/attention_cell/h2h"
    assert layer_of("/model/backbone/blocks/blocks.3/mid_se/conv1/Conv") == "/model/backbone/blocks/blocks.3"
    assert layer_of("/model/backbone/conv1/conv/Conv") == "/model/backbone/conv1/conv"
    assert layer_of("Conv_0") == "/"


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[LayerSensitivity]]:
    work = tmp_path_factory.mktemp("sweep")
    spec = ModelSpec.load(SHIPPED)
    keep = fp32_node_names(onnx.load(str(SHIPPED / spec.onnx_file)))
    prepared = prepare(SHIPPED / spec.onnx_file, work / "prepared.onnx")
    batches = calibration_batches(REAL_TRAIN, 32, spec)
    cache = work / "ranges.json"
    static_int8(prepared, work / "all.onnx", CalibrationBatches(batches, spec.input.name), cache, keep)
    return prepared, keep, sweep(prepared, work, batches, spec.input.name, keep, cache)


def test_every_quantizable_layer_is_ranked_least_tolerant_first(
    swept: tuple[Path, list[str], list[LayerSensitivity]],
) -> None:
    prepared, keep, ranked = swept
    names = [r.layer for r in ranked]
    assert len(names) == len(set(names)) >= 20
    assert [r.sqnr_db for r in ranked] == sorted(r.sqnr_db for r in ranked)
    assert all(math.isfinite(r.sqnr_db) and 0.0 <= r.changed <= 1.0 for r in ranked)
    assert "/model/backbone/blocks/blocks.3" in names and "/model/head/attention_cell" in names
    assert "/model/neck/encoder/lstm" not in names  # no QDQ form of LSTM: quantizing it changes nothing
    assert not any("grid_generator" in n for n in names)  # kept FP32 always (build_engine.fp16)


def test_keeping_layers_adds_all_their_nodes_to_the_fp32_list(
    swept: tuple[Path, list[str], list[LayerSensitivity]],
) -> None:
    prepared, keep, ranked = swept
    model = onnx.load(str(prepared))
    kept = keep_least_tolerant(ranked, 2, model, keep)
    added = set(kept) - set(keep)
    assert {layer_of(n) for n in added} == {ranked[0].layer, ranked[1].layer}
    assert added == {n for layer in (ranked[0].layer, ranked[1].layer) for n in layers(model, keep)[layer]}
    assert keep_least_tolerant(ranked, 0, model, keep) == sorted(set(keep))
