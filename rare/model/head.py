"""The attention decoder (PaddleOCR ``AttentionHead`` with ``AttentionGRUCell``).

One step: additive attention over the encoder sequence H, context = attention-weighted sum of H, then a GRU cell
on ``[context, one_hot(previous symbol)]``. Two changes make the graph lighter without changing the numbers beyond
float rounding: ``i2h(H)`` does not depend on the step so it is computed once, and the GRU input weights of the
one-hot part are applied as a row lookup (``W_sym[prev]``) instead of a matmul with a one-hot vector.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from rare.codec import NUM_STEPS


class StepConstants(NamedTuple):
    feats: torch.Tensor  # encoder sequence H [N, T, D]
    feats_proj: torch.Tensor  # i2h(H) [N, T, Hd]
    w_ctx: torch.Tensor  # GRU input weights of the context [3Hd, D]
    w_sym: torch.Tensor  # GRU input weights of the previous symbol, one row per class [C, 3Hd]


class AttentionGRUCell(nn.Module):
    def __init__(self, in_channels: int, hidden_size: int, num_classes: int) -> None:
        super().__init__()
        self.i2h = nn.Linear(in_channels, hidden_size, bias=False)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)
        self.rnn = nn.GRUCell(in_channels + num_classes, hidden_size)  # holds the weights; the math is below
        self.in_channels = in_channels
        self.hidden_size = hidden_size

    def prepare(self, feats: torch.Tensor) -> StepConstants:
        """What every step reuses: i2h(H) and the GRU input weights split into context and symbol parts."""
        w_ih = self.rnn.weight_ih
        return StepConstants(
            feats=feats,
            feats_proj=self.i2h(feats),  # [N, T, Hd]
            w_ctx=w_ih[:, : self.in_channels],  # [3Hd, D]
            w_sym=w_ih[:, self.in_channels :].t().contiguous(),  # [C, 3Hd]: row c is W_ih @ one_hot(c)
        )

    def forward(self, hidden: torch.Tensor, const: StepConstants, prev: torch.Tensor) -> torch.Tensor:
        """One step: hidden [N, Hd], previous symbol prev [N] (int) -> new hidden [N, Hd]."""
        energy = self.score(torch.tanh(const.feats_proj + self.h2h(hidden).unsqueeze(1)))  # [N, T, 1]
        alpha = F.softmax(energy, dim=1)
        context = torch.bmm(alpha.transpose(1, 2), const.feats).squeeze(1)  # [N, 1, T] @ [N, T, D] -> [N, D]
        gates_i = F.linear(context, const.w_ctx, self.rnn.bias_ih) + F.embedding(prev, const.w_sym)  # [N, 3Hd]
        gates_h = F.linear(hidden, self.rnn.weight_hh, self.rnn.bias_hh)  # [N, 3Hd]
        i_r, i_z, i_n = torch.split(gates_i, self.hidden_size, dim=1)
        h_r, h_z, h_n = torch.split(gates_h, self.hidden_size, dim=1)
        reset = torch.sigmoid(i_r + h_r)
        update = torch.sigmoid(i_z + h_z)
        candidate = torch.tanh(i_n + reset * h_n)
        return (1 - update) * candidate + update * hidden


class AttentionHead(nn.Module):
    """Decodes 25 steps: greedy (feeding back its own argmax) or teacher-forced (feeding the label)."""

    def __init__(self, in_channels: int, num_classes: int, hidden_size: int, num_steps: int = NUM_STEPS) -> None:
        super().__init__()
        self.attention_cell = AttentionGRUCell(in_channels, hidden_size, num_classes)
        self.generator = nn.Linear(hidden_size, num_classes)
        self.hidden_size = hidden_size
        self.num_steps = num_steps

    def forward(self, feats: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """feats [N, T, D] -> logits [N, 25, C] (softmax probabilities in eval mode).

        With ``targets`` [N, 25] (the encoded labels), step i is fed ``targets[:, i - 1]`` (``sos`` at step 0):
        exactly what greedy decoding feeds when every earlier step was right.
        """
        n = feats.shape[0]
        hidden = feats.new_zeros(n, self.hidden_size)
        prev = torch.zeros(n, dtype=torch.long, device=feats.device)
        const = self.attention_cell.prepare(feats)
        steps = []
        for i in range(self.num_steps):
            hidden = self.attention_cell(hidden, const, prev)
            logits = self.generator(hidden)
            steps.append(logits)
            prev = targets[:, i] if targets is not None else logits.argmax(dim=1)
        out = torch.stack(steps, dim=1)  # 25 x [N, C] -> [N, 25, C]
        return out if self.training else F.softmax(out, dim=2)
