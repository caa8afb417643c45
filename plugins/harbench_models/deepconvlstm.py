"""DeepConvLSTM (Ordonez & Roggen 2016), in the variant the TinyHAR and TinierHAR benchmarks use.

The input [B, T, C] is viewed as one image channel over (time, sensor channel). Four (5, 1) convs
without padding, 64 filters each, every second one with stride 2 along time, each followed by
ReLU (no BatchNorm by default); the features of a time step (64 x C) -> dropout 0.5 -> one LSTM
layer of 128 units -> the last time step -> Linear(128 -> K).

Defaults give 326,732 parameters for HAPT (6 channels, 12 classes), the count in the TinierHAR
authors' logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harbench.contracts import ModelPlugin
from harbench.settings import Param, defaults_of

if TYPE_CHECKING:
    from torch import nn


class DeepConvLSTM(ModelPlugin):
    name = "deepconvlstm"
    description = "DeepConvLSTM: four (5,1) convs (64 filters, stride 2 every second), LSTM 128"
    params = {
        "filters": Param(64, "filters of every conv", min=1, max=4096),
        "kernel": Param(5, "temporal kernel length", min=1, max=255),
        "hidden": Param(128, "LSTM units", min=1, max=4096),
        "layers": Param(1, "LSTM layers", min=1, max=16),
        "dropout": Param(0.5, "dropout probability before the LSTM", min=0, max=1,
                         max_exclusive=True),
        "batch_norm": Param(False, "BatchNorm after each conv's ReLU"),
    }
    defaults = defaults_of(params)
    head = "head"
    targets = {
        "adapter": ("conv",),
        "conv": ("conv",),
        "linear": (),
        "recurrent": ("lstm",),
    }

    def build(self, *, channels: int, window: int, classes: int, **params) -> nn.Module:
        from harbench_models.nets.deepconvlstm import DeepConvLSTMNet

        return DeepConvLSTMNet(channels, window, classes, **params)


PLUGINS = (DeepConvLSTM,)
