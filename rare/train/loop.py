"""The training loop: iterate, step, evaluate every ``Global.eval_batch_step``, keep ``best_accuracy.pt``/``latest.pt``.

Read top to bottom: :func:`train_from_config` wires the pieces, :class:`Trainer` owns the state, ``fit`` is the loop.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from rare.config import Config, codec_from_config, config_to_dict, load_config
from rare.data.build import build_eval_datasets, build_train_dataset
from rare.data.datasets import Batch, collate
from rare.export.checkpoint import load_weights, read_checkpoint, save_checkpoint
from rare.metrics import RecMetric, format_table
from rare.model import build_model
from rare.model.denormals import denormals_flushed, zero_vanishing_
from rare.train import distributed as dist_utils
from rare.train.evaluate import evaluate_all, overall
from rare.train.logger import TrainLogger
from rare.train.loss import attention_loss
from rare.train.optim import build_optimizer, lr_at, set_lr

log = logging.getLogger("rare.train")


def train_from_config(path: str, overrides: list[str]) -> float:
    """Train per the config; returns the best evaluation accuracy (-1 without an Eval dataset)."""
    cfg = load_config(path, overrides)
    runtime = dist_utils.setup(cfg.Global.device, cfg.Global.use_gpu)
    try:
        with denormals_flushed():  # subnormal weights and gradients would put every CPU kernel on its slow path
            return Trainer(cfg, runtime).fit()
    finally:
        dist_utils.teardown(runtime)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _worker_init(worker_id: int) -> None:
    np.random.seed(torch.initial_seed() % 2**32)


class Trainer:
    def __init__(self, cfg: Config, runtime: dist_utils.Runtime) -> None:
        self.cfg, self.rt = cfg, runtime
        g = cfg.Global
        # Workers decode, augment and render single-threaded; the training processes own the cores. Set here, in
        # the process that forks them, before it runs OpenCV: in a worker forked from a process that has run
        # OpenCV's thread pool, cv2.setNumThreads never returns.
        cv2.setNumThreads(1)
        seed_everything(g.seed + runtime.rank)
        self.codec = codec_from_config(cfg)
        self.model = build_model(cfg.Architecture, self.codec.num_classes)
        self.cpu = runtime.device.type == "cpu"
        self.model = self.model.to(runtime.device, memory_format=torch.channels_last if self.cpu else None)
        self.optimizer = build_optimizer(self.model, cfg.Optimizer, cfg.Architecture.Transform.loc_lr)
        self.amp = g.use_amp and runtime.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.step, self.epoch, self.best = 0, 0, -1.0
        self._last_saved = -1
        self._load_initial_weights()
        zeroed = zero_vanishing_(self.model)
        if zeroed and runtime.is_main:
            log.info("zeroed %d vanishing weights of the initial model", zeroed)
        self.net = DistributedDataParallel(self.model) if runtime.distributed else self.model
        self.train_set = build_train_dataset(cfg.Train.dataset, self.codec, g.seed, g.resize)
        self.eval_sets = (
            build_eval_datasets(cfg.Eval.dataset, self.codec, g.resize, g.orientation) if _has_data(cfg.Eval) else {}
        )
        self.out_dir = Path(g.save_model_dir)
        self.logger = TrainLogger(self.out_dir, runtime.is_main, g.log_smooth_window, g.print_batch_step)
        if runtime.is_main:
            (self.out_dir / "config.yml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))

    def _load_initial_weights(self) -> None:
        g = self.cfg.Global
        if g.checkpoints:  # resume: weights, optimizer, counters
            payload = read_checkpoint(g.checkpoints)
            load_weights(g.checkpoints, self.model, self.codec)
            if "optimizer" in payload:
                self.optimizer.load_state_dict(payload["optimizer"])
            self.step, self.epoch = int(payload.get("step", 0)), int(payload.get("epoch", 0))
            self.best = float(payload.get("best_metric", -1.0))
            log.info(
                "resumed from %s at step %d (epoch %d, best %.4f)", g.checkpoints, self.step, self.epoch, self.best
            )
        elif g.pretrained_model:  # initialize: weights only (ours or a PaddleOCR .pdparams)
            load_weights(g.pretrained_model, self.model, self.codec)
            log.info("initialized from %s", g.pretrained_model)

    def loader(self) -> DataLoader:
        lc = self.cfg.Train.loader
        self.train_set.set_epoch(self.epoch)
        if self.rt.distributed:
            sampler = DistributedSampler(self.train_set, shuffle=lc.shuffle, seed=self.cfg.Global.seed)
            sampler.set_epoch(self.epoch * 1000 + self.step)  # a resumed epoch does not replay the same order
        else:
            gen = torch.Generator().manual_seed(self.cfg.Global.seed * 100_003 + self.epoch * 1000 + self.step)
            sampler = RandomSampler(self.train_set, generator=gen) if lc.shuffle else None
        return DataLoader(
            self.train_set,
            batch_size=lc.batch_size_per_card,
            sampler=sampler,
            drop_last=lc.drop_last,
            num_workers=lc.num_workers,
            collate_fn=collate,
            worker_init_fn=_worker_init,
            pin_memory=not self.cpu,
            prefetch_factor=4 if lc.num_workers else None,
        )

    def total_steps(self) -> int:
        g, lc = self.cfg.Global, self.cfg.Train.loader
        per_epoch = max(1, len(self.train_set) // (lc.batch_size_per_card * self.rt.world_size))
        return g.max_iters if g.max_iters > 0 else g.epoch_num * per_epoch

    def fit(self) -> float:
        total = self.total_steps()
        lr_cfg = self.cfg.Optimizer.lr
        per_epoch = max(1, len(self.train_set) // (self.cfg.Train.loader.batch_size_per_card * self.rt.world_size))
        warmup = int(lr_cfg.warmup_epoch * per_epoch) or lr_cfg.warmup_iters
        if self.rt.is_main:
            log.info("training to step %d on %d process(es), device %s", total, self.rt.world_size, self.rt.device)
        self.logger.start(total, self.step)
        while self.step < total:
            for batch in self.loader():
                set_lr(self.optimizer, lr_at(self.step, total, warmup, self.cfg.Optimizer))
                loss, acc = self.train_step(batch)
                self.step += 1
                self.logger.step(
                    self.step,
                    self.epoch,
                    loss,
                    acc,
                    self.optimizer.param_groups[0]["lr"],
                    len(batch.text) * self.rt.world_size,
                    batch.skipped,
                )
                if self._eval_due():
                    self.evaluate_and_save()
                if self.step >= total:
                    break
            else:
                self.epoch += 1
        if self._last_saved != self.step:
            self.evaluate_and_save(final=True)
        self.logger.close()
        return self.best

    def train_step(self, batch: Batch) -> tuple[float, float | None]:
        images = batch.image.to(self.rt.device, non_blocking=True)
        if self.cpu:
            images = images.contiguous(memory_format=torch.channels_last)
        labels = batch.label.to(self.rt.device)
        lengths = batch.length.to(self.rt.device)
        loss_cfg = self.cfg.Loss
        with torch.autocast(self.rt.device.type, dtype=torch.float16, enabled=self.amp):
            if len(labels):
                logits = self.net(images, labels if loss_cfg.teacher_forcing else None)
                loss = attention_loss(logits, labels, lengths, loss_cfg.reduction)
            else:  # every sample of this batch was skipped: a zero step keeps DDP ranks in lockstep
                logits, loss = None, sum(p.sum() for p in self.net.parameters()) * 0.0
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.Optimizer.clip_norm:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.Optimizer.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach()), self._train_accuracy(logits, batch)

    def _train_accuracy(self, logits: torch.Tensor | None, batch: Batch) -> float | None:
        if logits is None or not self.cfg.Global.cal_metric_during_train:
            return None
        preds = self.codec.decode(logits.detach().float().cpu().numpy())
        metric = RecMetric()
        metric.update([p.text for p in preds], batch.text)
        return metric.acc

    def _eval_due(self) -> bool:
        start, every = (self.cfg.Global.eval_batch_step + [0, 0])[:2]
        return every > 0 and self.step >= start and (self.step - start) % every == 0

    def evaluate_and_save(self, final: bool = False) -> None:
        """Rank 0 evaluates and writes checkpoints; the other ranks wait."""
        self._last_saved = self.step
        if self.rt.is_main:
            acc = self._evaluate()
            improved = acc > self.best
            self.best = max(self.best, acc)
            extra = {
                "optimizer": self.optimizer.state_dict(),
                "step": self.step,
                "epoch": self.epoch,
                "best_metric": self.best,
            }
            save_checkpoint(self.out_dir / "latest.pt", self.model, self.cfg, self.codec, **extra)
            if improved or (final and not self.eval_sets):
                save_checkpoint(self.out_dir / "best_accuracy.pt", self.model, self.cfg, self.codec, **extra)
        dist_utils.barrier(self.rt)

    def _evaluate(self) -> float:
        if not self.eval_sets:
            return -1.0
        start = time.monotonic()
        metrics, skipped = evaluate_all(self.model, self.eval_sets, self.cfg.Eval.loader, self.codec, self.rt.device)
        total = overall(metrics)
        self.logger.eval(self.step, self.epoch, metrics, total)
        log.info("eval at step %d (%.0f s):\n%s", self.step, time.monotonic() - start, format_table(metrics, skipped))
        return total.acc if self.cfg.Metric.main_indicator == "acc" else total.norm_edit_dis


def _has_data(split: object) -> bool:
    ds = split.dataset
    return bool(ds.data_dir or ds.label_file_list or ds.sources or ds.name == "SynthDataSet")
