from pathlib import Path

from rare.images import read_image
from rare.onnx_runtime import OnnxRecognizer
from tests.benchmarks.conftest import Bench
from tests.conftest import val_crops


def test_variants_are_model_directories(bench: Bench, calib_model_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "quant"
    flags = "--variants int8-dynamic,int8-static-conv --calib-crops 8 --val-crops 8 --seconds 0.05 --threads 1"
    data = bench("quantize", calib_model_dir, f"{flags} --work {work}")
    assert [row["variant"] for row in data["rows"]] == ["fp32", "int8-dynamic", "int8-static-conv"]
    assert [t["name"] for t in data["targets"]] == [
        "quantized variant int8-dynamic",
        "quantized variant int8-static-conv",
    ]
    images = [read_image(path) for path, _ in val_crops(count=2)]
    for variant in ("int8-dynamic", "int8-static-conv"):
        results = OnnxRecognizer(work / variant, threads=1).recognize(images)  # the gateway can serve it as is
        assert len(results) == 2
