"""``rare eval``: word accuracy and normalized edit distance of a checkpoint, one table row per dataset."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from rare.codec import LabelCodec
from rare.config import ConfigError, load_config
from rare.config_schema import LoaderConfig
from rare.data.build import build_eval_datasets
from rare.data.datasets import RecDataset, collate
from rare.export.checkpoint import model_from_checkpoint
from rare.metrics import RecMetric, format_table, overall
from rare.model.denormals import denormals_flushed

log = logging.getLogger("rare.eval")


def eval_loader(dataset: RecDataset, cfg: LoaderConfig) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size_per_card,
        shuffle=False,
        drop_last=False,
        num_workers=cfg.num_workers,
        collate_fn=collate,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: DataLoader, codec: LabelCodec, device: torch.device
) -> tuple[RecMetric, Counter]:
    """Greedy-decode every sample; returns the metric and the skipped-sample counts by reason."""
    was_training = model.training
    model.eval()
    metric, skipped = RecMetric(), Counter()
    for batch in loader:
        skipped.update(batch.skipped)
        if not batch.text:
            continue
        preds = codec.decode(model(batch.image.to(device)).float().cpu().numpy())
        if batch.views is not None:  # nudged and turned views: the model's orientation policy chooses
            preds += codec.decode(model(batch.views.to(device)).float().cpu().numpy())
            preds = loader.dataset.orientation.choose(preds, [*range(len(batch.text)), *batch.view_owner])
        metric.update([p.text for p in preds], batch.text)
    model.train(was_training)
    return metric, skipped


def evaluate_all(
    model: nn.Module, datasets: dict[str, RecDataset], loader_cfg: LoaderConfig, codec: LabelCodec, device: torch.device
) -> tuple[dict[str, RecMetric], dict[str, int]]:
    metrics, skipped = {}, {}
    for name, dataset in datasets.items():
        metric, skips = evaluate(model, eval_loader(dataset, loader_cfg), codec, device)
        metrics[name], skipped[name] = metric, sum(skips.values())
    return metrics, skipped


def write_json(metrics: dict[str, RecMetric], path: str) -> None:
    """Per dataset and overall: samples, word accuracy, normalized edit distance (what MODEL.md quotes)."""
    rows = {**metrics, "overall": overall(metrics)}
    table = {
        name: {"samples": m.count, "acc": round(m.acc, 6), "norm_edit_dis": round(m.norm_edit_dis, 6)}
        for name, m in rows.items()
    }
    Path(path).write_text(json.dumps(table, indent=2) + "\n")


def eval_from_config(path: str, overrides: list[str]) -> dict[str, RecMetric]:
    cfg = load_config(path, overrides)
    if not cfg.Global.pretrained_model:
        raise ConfigError("eval needs -o Global.pretrained_model=CHECKPOINT")
    model, codec, _ = model_from_checkpoint(cfg.Global.pretrained_model, cfg)
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.Global.use_gpu else "cpu")
    datasets = build_eval_datasets(cfg.Eval.dataset, codec, cfg.Global.resize, cfg.Global.orientation)
    with denormals_flushed():
        metrics, skipped = evaluate_all(model.to(device), datasets, cfg.Eval.loader, codec, device)
    print(format_table(metrics, skipped))  # noqa: T201 - the table is the command's output
    return metrics
