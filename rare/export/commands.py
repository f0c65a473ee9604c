"""``rare convert-paddle`` and ``rare export`` (both need torch)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from rare.config import ConfigError, codec_from_config, load_config
from rare.export.checkpoint import model_from_checkpoint, save_checkpoint
from rare.export.onnx import export_model_dir
from rare.export.paddle import convert_pdparams
from rare.model import build_model

log = logging.getLogger("rare")


def convert_paddle(config: str, pdparams: str, out: str, overrides: list[str]) -> None:
    """PaddleOCR ``.pdparams`` -> project checkpoint; validates everything before writing anything."""
    cfg = load_config(config, overrides)
    codec = codec_from_config(cfg)
    model = build_model(cfg.Architecture, codec.num_classes)
    model.load_state_dict(convert_pdparams(pdparams, model))
    save_checkpoint(out, model, cfg, codec, source=f"paddle:{Path(pdparams).name}")
    count = sum(p.numel() for p in model.parameters())
    log.info(
        "wrote %s: %s, %d classes, %s parameters", out, cfg.Architecture.Backbone.name, codec.num_classes, f"{count:,}"
    )


def export(config: str, overrides: list[str]) -> None:
    """Export ``Global.pretrained_model`` to ``Global.save_inference_dir``/{model.onnx, rare.json, model.pt}."""
    cfg = load_config(config, overrides)
    if not cfg.Global.pretrained_model:
        raise ConfigError("export needs -o Global.pretrained_model=CHECKPOINT")
    if not cfg.Global.save_inference_dir:
        raise ConfigError("export needs -o Global.save_inference_dir=DIR")
    model, codec, payload = model_from_checkpoint(cfg.Global.pretrained_model, cfg)
    source = payload.get("source") or str(cfg.Global.pretrained_model)
    spec, report = export_model_dir(model, cfg, codec, cfg.Global.save_inference_dir, source=source)
    # the weights beside the graph, without optimizer state: fine-tune or re-export from the model directory alone
    kept = {key: payload[key] for key in ("step", "epoch", "best_metric") if key in payload}
    # the paths of this export run say nothing about the model, and would carry this machine's layout along
    run_paths = {"pretrained_model": None, "checkpoints": None, "save_inference_dir": None}
    model_cfg = dataclasses.replace(cfg, Global=dataclasses.replace(cfg.Global, **run_paths))
    save_checkpoint(Path(cfg.Global.save_inference_dir) / "model.pt", model, model_cfg, codec, source=source, **kept)
    log.info(
        "wrote %s/model.onnx (%d nodes, opset 17), rare.json and model.pt; ONNX Runtime vs PyTorch max diff %.2e",
        cfg.Global.save_inference_dir,
        sum(report.op_counts.values()),
        report.max_abs_diff,
    )
