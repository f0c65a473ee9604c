"""``rare.json``: what a served model is and how to talk to it (torch-free; the gateway reads it).

It names the graph's input and outputs by role (``images``; ``probs`` and/or ``ids`` + ``scores``), the charset,
special-token indices, image shape and normalization. :meth:`ModelSpec.check_io` compares it with the tensors a
runtime reports (ONNX Runtime or Triton) and fails with a message naming the mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rare.codec import NUM_STEPS, LabelCodec
from rare.errors import RareError
from rare.orientation import Orientation, OrientationError
from rare.preprocess import IMAGE_SHAPE, RESIZES, preprocess_batch

FORMAT = "rare-model/1"
OUTPUT_ROLES = ("probs", "ids", "scores")
DTYPE_ALIASES = {
    "tensor(float)": "float32",
    "FP32": "float32",
    "TYPE_FP32": "float32",
    "float": "float32",
    "tensor(float16)": "float16",
    "FP16": "float16",
    "TYPE_FP16": "float16",
    "tensor(int32)": "int32",
    "INT32": "int32",
    "TYPE_INT32": "int32",
    "tensor(int64)": "int64",
    "INT64": "int64",
    "TYPE_INT64": "int64",
}


class ModelSpecError(RareError, ValueError):
    """``rare.json`` is missing, malformed, or disagrees with the model graph."""


@dataclass
class TensorSpec:
    name: str
    dtype: str
    shape: list[int]  # -1 for a dynamic dimension (the batch)

    def matches(self, other: TensorSpec) -> str | None:
        """None when ``other`` (reported by a runtime) fits this spec, else what differs."""
        if normalize_dtype(other.dtype) != normalize_dtype(self.dtype):
            return f"dtype {other.dtype}, expected {self.dtype}"
        ours, theirs = self.shape, other.shape
        if len(ours) != len(theirs) or any(a >= 0 and b >= 0 and a != b for a, b in zip(ours, theirs, strict=False)):
            return f"shape {theirs}, expected {ours}"
        return None


@dataclass
class ModelSpec:
    model_name: str
    model_version: str
    characters: list[str]
    input: TensorSpec
    outputs: dict[str, TensorSpec]
    image_shape: list[int] = field(default_factory=lambda: list(IMAGE_SHAPE))
    num_steps: int = NUM_STEPS
    sos_index: int = 0
    eos_index: int = -1
    num_classes: int = 0
    lowercase: bool = True
    normalization: dict[str, Any] = field(default_factory=lambda: dict(NORMALIZATION))
    resize: str = "bilinear"  # how crops taller than the input shrink (rare.preprocess); absent in PaddleOCR imports
    # whether tall crops are also read turned and crops nudged (rare.orientation); off when absent (PaddleOCR
    # imports, older models)
    orientation: Orientation = field(default_factory=Orientation)
    # engines besides ONNX Runtime FP32 that passed the accuracy gate (rare.gates.engines), with their loss
    engines: dict[str, dict[str, Any]] = field(default_factory=dict)
    onnx_file: str = "model.onnx"
    architecture: str = ""
    source: str = ""
    format: str = FORMAT

    def __post_init__(self) -> None:
        self.num_classes = len(self.characters) + 2
        self.eos_index = self.num_classes - 1
        if self.resize not in RESIZES:
            raise ModelSpecError(f"rare.json: resize {self.resize!r}; choose from {list(RESIZES)}")
        unknown = sorted(set(self.outputs) - set(OUTPUT_ROLES))
        if unknown:
            raise ModelSpecError(f"rare.json: unknown output role(s) {unknown}; roles are {list(OUTPUT_ROLES)}")
        if "probs" not in self.outputs and not {"ids", "scores"} <= set(self.outputs):
            raise ModelSpecError("rare.json: outputs need 'probs' or both 'ids' and 'scores'")
        image = list(self.input.shape[1:])
        if len(image) == 3 and all(d >= 0 for d in image) and image != list(self.image_shape):
            raise ModelSpecError(
                f"rare.json: image_shape {list(self.image_shape)} but input {self.input.name!r} takes {image} "
                "(preprocessing would make tensors the graph refuses)"
            )
        probs = self.outputs.get("probs")
        if probs is not None and probs.shape and probs.shape[-1] >= 0 and probs.shape[-1] != self.num_classes:
            raise ModelSpecError(
                f"rare.json: output {probs.name!r} has {probs.shape[-1]} classes but the dictionary gives "
                f"{self.num_classes} (sos + {len(self.characters)} characters + eos)"
            )

    def codec(self) -> LabelCodec:
        return LabelCodec(self.characters, self.num_steps)

    def fetched_roles(self) -> tuple[str, ...]:
        """The outputs a runtime should fetch: the compact ``ids`` and ``scores`` when the graph has them (25 values
        per step instead of 25 x classes), else ``probs``; :func:`rare.codec.ids_and_scores` takes either."""
        return ("ids", "scores") if {"ids", "scores"} <= set(self.outputs) else ("probs",)

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Crops -> the model's input batch [N, C, H, W], with this model's geometry and resize."""
        return preprocess_batch(images, self.image_shape, self.resize)

    def preprocess_views(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        """Crops -> the input batch of every view this model reads of them (:mod:`rare.orientation`), and for each
        row the index of its crop; :meth:`Orientation.choose` turns the rows' readings into one per crop."""
        views, owners = self.orientation.expand(images)
        return self.preprocess(views), owners

    def check_io(self, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> None:
        """Raise :class:`ModelSpecError` naming every way the runtime's tensors differ from this spec."""
        problems = []
        found_in = {t.name: t for t in inputs}
        if self.input.name not in found_in:
            problems.append(f"input {self.input.name!r} not in the graph (it has {sorted(found_in)})")
        elif (diff := self.input.matches(found_in[self.input.name])) is not None:
            problems.append(f"input {self.input.name!r}: {diff}")
        found_out = {t.name: t for t in outputs}
        for role, spec in self.outputs.items():
            if spec.name not in found_out:
                problems.append(f"output {spec.name!r} ({role}) not in the graph (it has {sorted(found_out)})")
            elif (diff := spec.matches(found_out[spec.name])) is not None:
                problems.append(f"output {spec.name!r} ({role}): {diff}")
        if problems:
            raise ModelSpecError(f"{self.model_name}: rare.json does not match the model: " + "; ".join(problems))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / "rare.json"
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "rare.json") -> ModelSpec:
        try:
            if data.get("format", FORMAT) != FORMAT:
                raise ModelSpecError(f"{where}: format {data.get('format')!r}, expected {FORMAT!r}")
            fields = dict(data)
            fields["input"] = TensorSpec(**fields["input"])
            fields["outputs"] = {role: TensorSpec(**t) for role, t in fields["outputs"].items()}
            fields["orientation"] = Orientation(**fields.get("orientation", {}))
            return cls(**fields)
        except ModelSpecError:
            raise
        except OrientationError as exc:
            raise ModelSpecError(f"{where}: {exc}") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelSpecError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None

    @classmethod
    def load(cls, directory: str | Path) -> ModelSpec:
        path = Path(directory) / "rare.json"
        if not path.is_file():
            raise ModelSpecError(f"{path}: not found (a model directory holds model.onnx and rare.json)")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ModelSpecError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_json(text, str(path))

    @classmethod
    def from_json(cls, text: str, where: str = "rare.json") -> ModelSpec:
        """A spec from its JSON text (rare.json, or the ``rare_spec`` parameter of a Triton model config)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelSpecError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ModelSpecError(f"{where}: expected a JSON object")
        return cls.from_dict(data, where)


NORMALIZATION = {
    "color": "BGR",
    "resize": "keep aspect ratio, height 32, width min(ceil(32*w/h), 100), bilinear",
    "scale": "(x / 255 - 0.5) / 0.5",
    "pad_value": 0.0,
}


def normalization(resize: str) -> dict[str, Any]:
    """The human-readable normalization record of ``rare.json`` for a resize mode."""
    if resize == "bilinear":
        return dict(NORMALIZATION)
    area = NORMALIZATION["resize"].replace("bilinear", "area when shrinking, else bilinear")
    return {**NORMALIZATION, "resize": area}


def normalize_dtype(dtype: str) -> str:
    return DTYPE_ALIASES.get(dtype, dtype)


def our_io(num_classes: int, batch: int = -1) -> tuple[TensorSpec, dict[str, TensorSpec]]:
    """The input and outputs of graphs written by ``rare export``."""
    images = TensorSpec("images", "float32", [batch, *IMAGE_SHAPE])
    outputs = {
        "probs": TensorSpec("probs", "float32", [batch, NUM_STEPS, num_classes]),
        "ids": TensorSpec("ids", "int32", [batch, NUM_STEPS]),
        "scores": TensorSpec("scores", "float32", [batch, NUM_STEPS]),
    }
    return images, outputs
