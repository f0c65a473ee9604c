from pathlib import Path

from benchmarks.quantize import quantized_bound
from build_engine.sensitivity import LayerSensitivity
from rare.images import read_image
from rare.onnx_runtime import OnnxRecognizer
from tests.benchmarks.conftest import Bench
from tests.conftest import val_crops


def test_variants_are_model_directories(bench: Bench, calib_model_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "quant"
    flags = "--variants int8-dynamic,int8-static-conv --keep-layers 1 --calib-crops 8 --val-crops 8 --seconds 0.05"
    flags += " --threads 1"
    data = bench("quantize", calib_model_dir, f"{flags} --work {work}")
    variants = ["int8-dynamic", "int8-static-conv", "int8-static-keep1"]
    assert [row["variant"] for row in data["rows"]] == ["fp32", *variants]
    assert [t["name"] for t in data["targets"]] == [f"quantized variant {v}" for v in variants]
    assert data["layers"] and all(layer["layer"].startswith("/model/") for layer in data["layers"])
    images = [read_image(path) for path, _ in val_crops(count=2)]
    for variant in variants:
        results = OnnxRecognizer(work / variant, threads=1).recognize(images)  # the gateway can serve it as is
        assert len(results) == 2


def test_bound_names_the_spread_loss_only_where_static_int8_loses_too_much() -> None:
    ranked = [LayerSensitivity(f"/model/l{i}", 3, 19.0 + i, 0.1) for i in range(5)]
    fp32 = {"variant": "fp32", "items_per_s": 800.0, "accuracy": 75.0}
    lossy = {"variant": "int8-static-keep2", "items_per_s": 880.0, "accuracy": 73.0}
    close = {"variant": "int8-static-conv", "items_per_s": 880.0, "accuracy": 74.8}
    dynamic = {"variant": "int8-dynamic", "items_per_s": 880.0, "accuracy": 73.0}
    assert quantized_bound(lossy, fp32, ranked).startswith("1.10x FP32's speed")
    assert "each of 5 layers alone: 19-21 dB" in quantized_bound(lossy, fp32, ranked)
    assert "SQNR" not in quantized_bound(close, fp32, ranked)
    assert "SQNR" not in quantized_bound(dynamic, fp32, ranked)
