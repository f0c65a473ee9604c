"""``rare average``: one checkpoint whose weights are the mean of several checkpoints of the same run.

The evaluations near the end of a cosine run sit in one basin, each a little off its floor in its own direction;
their mean often reads better than any of them (checkpoint averaging, as fairseq and Stochastic Weight Averaging
do it). Floating-point tensors, BatchNorm's running statistics included, are averaged in float64; integer tensors
(BatchNorm's batch counters) are taken from the last checkpoint, as are the config, the charset and the step. The
result has no optimizer state: export it, evaluate it, or fine-tune from it like any other checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rare.codec import LabelCodec
from rare.config import config_from_dict
from rare.export.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from rare.model import build_model


def average_state(payloads: Sequence[dict[str, Any]], paths: Sequence[Path]) -> dict[str, torch.Tensor]:
    """The mean of the checkpoints' state_dicts; every checkpoint must have the same tensors and charset."""
    first, first_path = payloads[0], paths[0]
    for payload, path in zip(payloads[1:], paths[1:], strict=True):
        if payload["charset"] != first["charset"]:
            raise CheckpointError(f"{path}: its charset differs from {first_path}'s: cannot average them")
        mismatched = sorted(
            key
            for key in first["state_dict"].keys() | payload["state_dict"].keys()
            if key not in first["state_dict"]
            or key not in payload["state_dict"]
            or first["state_dict"][key].shape != payload["state_dict"][key].shape
        )
        if mismatched:
            raise CheckpointError(
                f"{path}: not the same model as {first_path} ({len(mismatched)} tensors differ, e.g. {mismatched[0]})"
            )
    averaged = {}
    for key, last in payloads[-1]["state_dict"].items():
        if last.is_floating_point():
            total = sum(p["state_dict"][key].double() for p in payloads)
            averaged[key] = (total / len(payloads)).to(last.dtype)
        else:
            averaged[key] = last.clone()
    return averaged


def average_checkpoints(paths: Sequence[str | Path], out: str | Path) -> None:
    """Write the mean of ``paths`` (at least two checkpoints of one model) to ``out``."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise CheckpointError("average needs at least two checkpoints")
    payloads = [read_checkpoint(p) for p in paths]
    last = payloads[-1]
    cfg = config_from_dict(last["config"])
    codec = LabelCodec(last["charset"])  # the checkpoint's own: its config's dictionary path may not exist here
    model = build_model(cfg.Architecture, codec.num_classes)
    model.load_state_dict(average_state(payloads, paths))
    kept = {key: last[key] for key in ("step", "epoch") if key in last}
    source = "average of " + ", ".join(str(p) for p in paths)
    save_checkpoint(out, model, cfg, codec, source=source, **kept)
