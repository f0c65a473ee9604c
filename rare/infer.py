"""``rare infer``: PaddleOCR's ``tools/infer/predict_rec.py`` habit, on ONNX Runtime, without torch.

A model directory holds ``model.onnx`` and ``rare.json``. A directory without ``rare.json`` (e.g. PaddleOCR's own
ONNX export) is described from the command line: its single ONNX file, first input, first output as probabilities,
and the dictionary given by ``--rec_char_dict_path`` (the built-in 36 characters by default).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from rare.codec import LabelCodec
from rare.images import list_images, read_batches
from rare.modelspec import ModelSpec, ModelSpecError, TensorSpec
from rare.onnx_runtime import OnnxRecognizer, tensor_specs
from rare.preprocess import IMAGE_SHAPE

log = logging.getLogger("rare.infer")


def spec_for_directory(model_dir: Path, char_dict: str | None, use_space_char: bool) -> ModelSpec:
    """``rare.json`` if present (with an optional dictionary override), else a spec read off the ONNX graph."""
    codec = LabelCodec.from_dict_file(char_dict, use_space_char) if char_dict or use_space_char else None
    if (model_dir / "rare.json").is_file():
        spec = ModelSpec.load(model_dir)
        return spec if codec is None else dataclasses.replace(spec, characters=codec.characters)
    onnx_files = sorted(model_dir.glob("*.onnx"))
    if len(onnx_files) != 1:
        raise ModelSpecError(f"{model_dir}: expected rare.json or exactly one .onnx file, found {len(onnx_files)}")
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_files[0]), providers=["CPUExecutionProvider"])
    (images, *_), (probs, *_) = tensor_specs(session.get_inputs()), tensor_specs(session.get_outputs())
    codec = codec or LabelCodec()
    return ModelSpec(
        model_name=model_dir.name,
        model_version="1",
        characters=codec.characters,
        input=images,
        outputs={"probs": TensorSpec(probs.name, probs.dtype, [-1, codec.num_steps, codec.num_classes])},
        onnx_file=onnx_files[0].name,
        source=str(onnx_files[0]),
    )


def run_infer(
    image_dir: str,
    model_dir: str,
    image_shape: str = "3,32,100",
    char_dict: str | None = None,
    use_space_char: bool = False,
    batch_size: int = 6,
    emit: Callable[[str], None] = print,
) -> int:
    """Print ``Predicts of <image>: ('text', confidence)`` per image; returns the number of unreadable files."""
    shape = [int(v) for v in image_shape.replace(" ", "").split(",")]
    if shape != list(IMAGE_SHAPE):
        raise ModelSpecError(f"--rec_image_shape {image_shape!r}: RARE's TPS grid is built for 3,32,100 only")
    recognizer = OnnxRecognizer(model_dir, spec=spec_for_directory(Path(model_dir), char_dict, use_space_char))
    paths = list_images(image_dir)
    failed = 0
    for batch in read_batches(paths, batch_size):
        for path, exc in batch.failed:
            failed += 1
            log.error("skipping unreadable image %s: %s", path, exc)
        for position, result in zip(batch.positions, recognizer.recognize(batch.images), strict=True):
            emit(f"Predicts of {paths[position]}: ({result.text!r}, {result.confidence})")
    return failed
