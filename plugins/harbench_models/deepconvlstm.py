"""DeepConvLSTM (Ordonez & Roggen 2016), in the variant the TinyHAR and TinierHAR benchmarks use.

The input [B, T, C] is viewed as one image channel over (time, sensor channel). Four (5, 1) convs
without padding, 64 filters each, every second one with stride 2 along time, each followed by
ReLU (no BatchNorm by default); the features of a time step (64 x C) -> dropout 0.5 -> one LSTM
layer of 128 units -> the last time step -> Linear(128 -> K).

Defaults give 326,732 parameters for HAPT (6 channels, 12 classes), the count in the TinierHAR
authors' logs.
"""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError, ModelPlugin

from .tinyhar import STRIDES, conv_length


class ConvUnit(nn.Module):
    """(k, 1) conv, no padding -> ReLU (-> BatchNorm)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, batch_norm: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, (kernel, 1), stride=(stride, 1))
        self.act = nn.ReLU()
        self.bn = nn.BatchNorm2d(out_ch) if batch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.act(self.conv(x)))


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


class DeepConvLSTM(ModelPlugin):
    name = "deepconvlstm"
    description = "DeepConvLSTM: four (5,1) convs (64 filters, stride 2 every second), LSTM 128"
    defaults = {
        "filters": 64,  # filters of every conv
        "kernel": 5,  # temporal kernel length
        "hidden": 128,  # LSTM units
        "layers": 1,  # LSTM layers
        "dropout": 0.5,  # before the LSTM
        "batch_norm": False,  # BatchNorm after each conv's ReLU
    }
    head = "head"
    targets = {
        "adapter": ("conv",),
        "conv": ("conv",),
        "linear": (),
        "recurrent": ("lstm",),
    }

    def build(self, *, channels: int, window: int, classes: int, **params) -> nn.Module:
        return DeepConvLSTMNet(channels, window, classes, **params)


PLUGINS = (DeepConvLSTM,)
