"""AttentionLoss: PaddleOCR's summed cross-entropy, or a length-masked mean for teacher forcing."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attention_loss(logits: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor, reduction: str) -> torch.Tensor:
    """logits [N, 25, C], labels [N, 25], lengths [N] (characters without sos/eos).

    ``sum``: cross-entropy summed over all 25 steps of every sample, padding included (PaddleOCR's AttentionLoss).
    ``masked_mean``: averaged over the steps a label really has: sos, its characters and eos (L + 2 steps).
    """
    n, steps, classes = logits.shape
    losses = F.cross_entropy(logits.reshape(n * steps, classes).float(), labels.reshape(n * steps), reduction="none")
    if reduction == "sum":
        return losses.sum()
    valid = torch.arange(steps, device=labels.device)[None, :] <= (lengths[:, None] + 1)  # [N, 25]
    return (losses.reshape(n, steps) * valid).sum() / valid.sum().clamp(min=1)
