"""Project checkpoints: the state_dict with the resolved config and the charset, so a checkpoint rebuilds its model.

Format (``torch.save`` of a dict, read back with ``weights_only=True``)::

    {"format": "rare-checkpoint/1", "state_dict": {...}, "config": {...}, "charset": ["0", ...],
     "step": int, "epoch": int, "optimizer": {...}, "best_metric": float, "source": str}

Training adds ``optimizer``/``step``/``epoch``/``best_metric``; a converted PaddleOCR model has ``source``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from rare.codec import LabelCodec
from rare.config import Config, codec_from_config, config_to_dict
from rare.errors import RareError
from rare.export.paddle import PaddleImportError, convert_pdparams
from rare.model import RARE, build_model

FORMAT = "rare-checkpoint/1"


class CheckpointError(RareError, ValueError):
    """A checkpoint is missing, unreadable, or does not fit the configured model."""


def save_checkpoint(path: str | Path, model: RARE, cfg: Config, codec: LabelCodec, **extra: Any) -> None:
    """Write atomically: a crash mid-write never leaves a truncated checkpoint under the final name."""
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config_to_dict(cfg),
        "charset": list(codec.characters),
        **extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is shared like any other file
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a project checkpoint (never executes code from the file)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file; all mean the same here
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint (convert PaddleOCR files with rare convert-paddle)")
    return payload


def resolve_weights_path(path: str | Path) -> Path:
    """PaddleOCR style: ``output/best_accuracy`` means ``best_accuracy.pt`` or ``best_accuracy.pdparams``."""
    path = Path(path)
    if path.is_file():
        return path
    for suffix in (".pt", ".pdparams"):
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"{path}: no such checkpoint (also tried .pt and .pdparams)")


def load_weights(path: str | Path, model: RARE, codec: LabelCodec) -> dict[str, Any]:
    """Load our checkpoint or a PaddleOCR ``.pdparams`` into ``model``; returns the checkpoint payload."""
    path = resolve_weights_path(path)
    if path.suffix == ".pdparams":
        state = convert_pdparams(path, model)
        payload: dict[str, Any] = {"state_dict": state, "charset": list(codec.characters), "source": str(path)}
    else:
        payload = read_checkpoint(path)
        if payload["charset"] != list(codec.characters):
            raise CheckpointError(
                f"{path}: the checkpoint's dictionary ({len(payload['charset'])} characters) differs from the "
                f"config's ({len(codec.characters)}); set Global.character_dict_path to the training dictionary"
            )
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()
        raise CheckpointError(f"{path}: does not fit the configured model: {' '.join(first[:3])[:400]}") from None
    return payload


def model_from_checkpoint(path: str | Path, cfg: Config) -> tuple[RARE, LabelCodec, dict[str, Any]]:
    """Build the configured model and codec and load the weights at ``path`` into it."""
    codec = codec_from_config(cfg)
    model = build_model(cfg.Architecture, codec.num_classes)
    try:
        payload = load_weights(path, model, codec)
    except PaddleImportError as exc:
        raise CheckpointError(str(exc)) from None
    return model, codec, payload
