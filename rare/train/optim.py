"""Adam per the config, with PaddleOCR's per-tensor learning-rate multipliers, and the LR schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from rare.config_schema import OptimizerConfig

# PaddleOCR gives loc_lr (0.1 x) to exactly these three tensors of the TPS regressor.
LOC_LR_PARAMS = ("transform.loc_net.fc1.weight", "transform.loc_net.fc2.weight", "transform.loc_net.fc2.bias")


def build_optimizer(model: nn.Module, cfg: OptimizerConfig, loc_lr: float) -> torch.optim.Optimizer:
    base, loc = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (loc if name in LOC_LR_PARAMS else base).append(param)
    lr = cfg.lr.learning_rate
    groups = [{"params": base, "lr": lr, "lr_scale": 1.0}, {"params": loc, "lr": lr * loc_lr, "lr_scale": loc_lr}]
    kwargs = {"betas": (cfg.beta1, cfg.beta2), "eps": cfg.epsilon, "weight_decay": cfg.regularizer.factor}
    if cfg.name == "AdamW":
        return torch.optim.AdamW(groups, lr=lr, **kwargs)
    return torch.optim.Adam(groups, lr=lr, **kwargs)


def lr_at(step: int, total_steps: int, warmup_steps: int, cfg: OptimizerConfig) -> float:
    """Base learning rate at ``step``: linear warmup, then constant (Const) or cosine decay to 0 (Cosine)."""
    base = cfg.lr.learning_rate
    if step < warmup_steps:
        return base * (step + 1) / warmup_steps
    if cfg.lr.name == "Const":
        return base
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]
