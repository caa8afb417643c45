"""DeepConvLSTM (Ordonez & Roggen 2016), in the variant the TinyHAR and TinierHAR benchmarks use.

The input [B, T, C] is viewed as one image channel over (time, sensor channel). Four (5, 1) convs
without padding, 64 filters each, every second one with stride 2 along time, each followed by
ReLU (no BatchNorm by default); the features of a time step (64 x C) -> dropout 0.5 -> one LSTM
layer of 128 units -> the last time step -> Linear(128 -> K).

Defaults give 326,732 parameters for HAPT (6 channels, 12 classes), the count in the TinierHAR
authors' logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import ModelPlugin
from harbench.settings import PluginParams, setting

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class DeepConvLSTMParams(PluginParams):
    """DeepConvLSTM's parameters."""

    filters: int = setting(64, "filters of every conv", min=1, max=4096)
    kernel: int = setting(5, "temporal kernel length", min=1, max=255)
    hidden: int = setting(128, "LSTM units", min=1, max=4096)
    layers: int = setting(1, "LSTM layers", min=1, max=16)
    dropout: float = setting(
        0.5, "dropout probability before the LSTM", min=0, max=1, max_exclusive=True
    )
    batch_norm: bool = setting(False, "BatchNorm after each conv's ReLU")


class DeepConvLSTM(ModelPlugin):
    name = "deepconvlstm"
    description = "DeepConvLSTM: four (5,1) convs (64 filters, stride 2 every second), LSTM 128"
    params = DeepConvLSTMParams
    head = "head"
    targets = {
        "adapter": ("conv",),
        "conv": ("conv",),
        "linear": (),
        "recurrent": ("lstm",),
    }

    def build(self, *, channels: int, window: int, classes: int, params: Any) -> nn.Module:
        from .net import DeepConvLSTMNet

        return DeepConvLSTMNet(channels, window, classes, **params.to_dict())


PLUGINS = (DeepConvLSTM,)
