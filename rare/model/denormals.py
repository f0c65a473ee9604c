"""Keep subnormal floats off the CPU's slow path, in PyTorch and in exported graphs.

Adam with L2 regularization drives weights that get no gradient geometrically toward zero (the decay step is
``lr * factor / eps`` times the weight), until they sit near or below float32's smallest normal number (1.2e-38).
Every multiply-add that touches such a value runs on the CPU's microcoded denormal path, tens of times slower: a
model carrying them trains and infers up to 1.8x slower, for no change in what it computes.

Two remedies, used together:

- :func:`denormals_flushed` sets the CPU's flush-to-zero / denormals-are-zero modes for PyTorch's math while
  training, evaluating and predicting;
- :func:`zero_vanishing_` zeroes every float32 parameter whose magnitude is below :data:`rare.graph.VANISHING`
  (no output changes: ``rare export`` proves it with its ONNX Runtime vs PyTorch check).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from rare.graph import ABS_MASK, VANISHING


@contextmanager
def denormals_flushed() -> Iterator[bool]:
    """Within the block, flush subnormal results and inputs to zero in PyTorch's CPU math (yields False where the CPU
    cannot). The mode is process state that other code (NumPy, hypothesis) relies on being off, so it is restored."""
    try:
        yield bool(torch.set_flush_denormal(True))
    finally:
        torch.set_flush_denormal(False)


@torch.no_grad()
def zero_vanishing_(model: nn.Module, threshold: float = VANISHING) -> int:
    """Zero, in place, every floating-point parameter entry with 0 < |w| < ``threshold``; returns how many."""
    limit = int(np.float32(threshold).view(np.int32))
    zeroed = 0
    for param in model.parameters():
        if param.dtype != torch.float32:
            continue
        magnitude = param.view(torch.int32) & ABS_MASK  # the bits of |w|, ordered as |w| is
        tiny = (magnitude != 0) & (magnitude < limit)
        zeroed += int(tiny.sum())
        param.masked_fill_(tiny, 0.0)
    return zeroed
