"""Im2Seq + a 2-layer bidirectional LSTM (PaddleOCR ``SequenceEncoder`` with ``encoder_type: rnn``)."""

from __future__ import annotations

import torch
from torch import nn


class EncoderWithRNN(nn.Module):
    def __init__(self, in_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(in_channels, hidden_size, num_layers=2, bidirectional=True, batch_first=True)
        self.out_channels = 2 * hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


class SequenceEncoder(nn.Module):
    """[N, C, 1, W] feature map -> [N, W, 2 * hidden] sequence."""

    def __init__(self, in_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.encoder = EncoderWithRNN(in_channels, hidden_size)
        self.out_channels = self.encoder.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.squeeze(2).transpose(1, 2)  # [N, C, 1, W] -> [N, W, C]
        return self.encoder(x)
