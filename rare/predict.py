"""``rare predict``: recognize ``Global.infer_img`` (an image or a folder) with a checkpoint (PyTorch)."""

from __future__ import annotations

import logging

import torch

from rare.checkpoint import model_from_checkpoint
from rare.config import ConfigError, load_config
from rare.images import ImageDecodeError, list_images, read_image
from rare.model.denormals import denormals_flushed
from rare.preprocess import preprocess_batch

log = logging.getLogger("rare.predict")
BATCH = 32


def predict_from_config(path: str, overrides: list[str]) -> int:
    """Print ``Predicts of <image>: ('text', confidence)`` per image; exit code 1 if any file was unreadable."""
    cfg = load_config(path, overrides)
    if not cfg.Global.pretrained_model or not cfg.Global.infer_img:
        raise ConfigError("predict needs -o Global.pretrained_model=CHECKPOINT Global.infer_img=IMAGE_OR_FOLDER")
    model, codec, _ = model_from_checkpoint(cfg.Global.pretrained_model, cfg)
    model.eval()
    paths, failed = list_images(cfg.Global.infer_img), 0
    for start in range(0, len(paths), BATCH):
        images, names = [], []
        for p in paths[start : start + BATCH]:
            try:
                images.append(read_image(p))
                names.append(p)
            except ImageDecodeError as exc:
                failed += 1
                log.error("skipping unreadable image %s", exc)
        if not images:
            continue
        with torch.no_grad(), denormals_flushed():
            scores, ids = model(torch.from_numpy(preprocess_batch(images, resize=cfg.Global.resize))).max(dim=2)
        results = codec.decode_ids(ids.numpy(), scores.numpy(), cfg.PostProcess.stop_at_eos)
        for name, result in zip(names, results, strict=True):
            print(f"Predicts of {name}: ({result.text!r}, {result.confidence})")  # noqa: T201
    return 1 if failed else 0
