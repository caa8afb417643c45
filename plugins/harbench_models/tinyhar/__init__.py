"""TinyHAR (Zhou et al., ISWC 2022): per-channel convs, cross-channel attention, LSTM, attention.

The input [B, T, C] is viewed as one image channel over (time, sensor channel).

1. Four (5, 1) convs without padding, F filters each, strides along time 1, 2, 1, 2; each conv
   -> ReLU -> BatchNorm (that order, as in the authors' code).
2. At every time step, self-attention across the C sensor channels (query, key and value are
   Linear(F -> F) without bias, no scaling; the authors' code normalises the scores over the
   query index, which is this with the roles of query and key swapped); its output, scaled by a
   learned ``gamma`` that starts at 0, is added to the input. Dropout.
3. Cross-channel fusion: the C x F features of a time step -> Linear(C*F -> 2F) -> ReLU.
4. One LSTM layer of 2F units.
5. Temporal attention: scores from Linear(2F -> 2F) + tanh then Linear(2F -> 1) without bias,
   softmax over time; the output is the last hidden state + a second learned ``gamma`` (from 0)
   times the attention-weighted sum of the hidden states.
6. Linear(2F -> K).

Defaults give 27,674 parameters for HAPT (6 channels, 12 classes), the count the TinierHAR
authors report for TinyHAR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import ModelPlugin
from harbench.settings import PluginParams, setting

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class TinyHARParams(PluginParams):
    """TinyHAR's parameters."""

    filters: int = setting(
        20, "F: conv filters; the LSTM and fusion have 2F units", min=1, max=2048
    )
    kernel: int = setting(5, "temporal kernel length of the four convs", min=1, max=255)
    dropout: float = setting(
        0.1, "dropout probability after the cross-channel attention",
        min=0, max=1, max_exclusive=True,
    )


class TinyHAR(ModelPlugin):
    name = "tinyhar"
    description = "TinyHAR: (5,1) convs, cross-channel self-attention, FC fusion, LSTM, attention"
    params = TinyHARParams
    head = "head"
    targets = {
        "adapter": ("conv", "q", "k", "v", "fusion", "temporal_attention.proj"),
        "conv": ("conv",),
        "linear": ("q", "k", "v", "fusion", "temporal_attention.proj"),
        "attention": ("q", "k", "v"),
        "recurrent": ("lstm",),
    }

    def build(self, *, channels: int, window: int, classes: int, params: Any) -> nn.Module:
        from .net import TinyHARNet

        return TinyHARNet(channels, window, classes, **params.to_dict())


PLUGINS = (TinyHAR,)
