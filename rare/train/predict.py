"""``rare predict``: recognize ``Global.infer_img`` (an image or a folder) with a checkpoint (PyTorch)."""

from __future__ import annotations

import logging

import torch

from rare.codec import ids_and_scores
from rare.config import ConfigError, load_config
from rare.export.checkpoint import model_from_checkpoint
from rare.images import list_images, read_batches
from rare.model.denormals import denormals_flushed
from rare.preprocess import preprocess_batch

log = logging.getLogger("rare.train.predict")
BATCH = 32


def predict_from_config(path: str, overrides: list[str]) -> int:
    """Print ``Predicts of <image>: ('text', confidence)`` per image; exit code 1 if any file was unreadable."""
    cfg = load_config(path, overrides)
    if not cfg.Global.pretrained_model or not cfg.Global.infer_img:
        raise ConfigError("predict needs -o Global.pretrained_model=CHECKPOINT Global.infer_img=IMAGE_OR_FOLDER")
    model, codec, _ = model_from_checkpoint(cfg.Global.pretrained_model, cfg)
    model.eval()
    paths, failed = list_images(cfg.Global.infer_img), 0
    for batch in read_batches(paths, BATCH):
        for unreadable, exc in batch.failed:
            failed += 1
            log.error("skipping unreadable image %s: %s", unreadable, exc)
        if not batch.images:
            continue
        views, owners = cfg.Global.orientation.expand(batch.images)  # tall crops: three views (rare.orientation)
        with torch.no_grad(), denormals_flushed():
            probs = model(torch.from_numpy(preprocess_batch(views, resize=cfg.Global.resize)))
        ids, scores = ids_and_scores({"probs": probs.numpy()})
        results = cfg.Global.orientation.choose(codec.decode_ids(ids, scores, cfg.PostProcess.stop_at_eos), owners)
        for position, result in zip(batch.positions, results, strict=True):
            print(f"Predicts of {paths[position]}: ({result.text!r}, {result.confidence})")  # noqa: T201
    return 1 if failed else 0
