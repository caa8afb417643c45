"""DeepConvLSTM network (see ``harbench_models.deepconvlstm`` for the architecture)."""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError

from .._kernels import single_channel_temporal
from ..tinyhar.net import STRIDES, conv_length


class ConvUnit(nn.Module):
    """(k, 1) conv, no padding -> ReLU (-> BatchNorm)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, batch_norm: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, (kernel, 1), stride=(stride, 1))
        self.act = nn.ReLU()
        self.bn = nn.BatchNorm2d(out_ch) if batch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.act(single_channel_temporal(self.conv, x)))


class DeepConvLSTMNet(nn.Module):
    def __init__(self, channels: int, window: int, classes: int, *, filters: int = 64,
                 kernel: int = 5, hidden: int = 128, layers: int = 1, dropout: float = 0.5,
                 batch_norm: bool = False):
        super().__init__()
        if min(filters, kernel, hidden, layers) < 1:
            raise HarbenchError(
                "model 'deepconvlstm' needs filters, kernel, hidden and layers >= 1"
            )
        if conv_length(window, kernel) < 1:
            raise HarbenchError(
                f"model 'deepconvlstm' needs a longer window: {window} samples leave no time step "
                f"after four unpadded ({kernel}, 1) convs with strides {STRIDES}"
            )
        self.convs = nn.ModuleList(
            ConvUnit(1 if i == 0 else filters, filters, kernel, stride, batch_norm)
            for i, stride in enumerate(STRIDES)
        )
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(filters * channels, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        h = x.unsqueeze(1)
        for unit in self.convs:
            h = unit(h)  # [B, F, L, C]
        b, f, length, c = h.shape
        h = self.dropout(h.permute(0, 2, 1, 3).reshape(b, length, f * c))
        h, _ = self.lstm(h)
        return self.head(h[:, -1])
