"""TinierHAR (arXiv 2507.07949): residual depthwise-separable convs + BiGRU + attention pooling.

The input [B, T, C] is viewed as one image channel over (time, sensor channel). Every conv kernel
is (5, 1): along time only, shared across sensor channels.

- Blocks 1 and 2 (1 -> M, M -> 2M): depthwise (5, 1) conv (padding 2) -> pointwise 1x1 conv ->
  BatchNorm -> ReLU -> MaxPool (2, 1); shortcut 1x1 conv -> BatchNorm -> the same MaxPool; summed.
- Blocks 3-6 (2M -> 2M): the same without pooling, identity shortcut.
- Reshape to (B, T/4, 2M * C), dropout, one bidirectional GRU layer of N units per direction,
  attention pooling over time (Linear(2N -> 1), softmax over time, weighted sum), Linear(2N -> K).

As in the authors' code, every conv and linear layer has a bias, and a shortcut gets a 1x1 conv
only where the channel count changes (a pooling block with equal counts pools the input alone).
Defaults give 7,483 parameters for HAPT (6 channels, 12 classes), the published count.

Ablation switches: ``residual`` (shortcuts on/off), ``separable`` (depthwise + pointwise, or one
standard (5, 1) conv), ``temporal`` ("gru", "lstm", "none"), ``aggregation`` ("attention",
"mean", "last").

The network lives in ``net.py`` beside this file (imported on build: this module stays
free of torch). Its forward computes the 1x1 and depthwise convs with the exact fast kernels of
``harbench_models._kernels`` and pools before the ReLU (max and ReLU commute).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import ModelPlugin
from harbench.settings import PluginParams, setting

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class TinierHARParams(PluginParams):
    """TinierHAR's parameters."""

    filters: int = setting(4, "M: block 1 has M filters, blocks 2-6 have 2M", min=1, max=1024)
    hidden: int = setting(16, "N: recurrent units per direction", min=1, max=4096)
    dropout: float = setting(
        0.3, "dropout probability before the recurrent layer", min=0, max=1, max_exclusive=True
    )
    residual: bool = setting(True, "shortcut connections")
    separable: bool = setting(
        True, "depthwise + pointwise, else one standard (5,1) conv per block"
    )
    temporal: str = setting("gru", "recurrent layer", choices=("gru", "lstm", "none"))
    aggregation: str = setting(
        "attention", "pooling over time", choices=("attention", "mean", "last")
    )


class TinierHAR(ModelPlugin):
    name = "tinierhar"
    description = "TinierHAR: residual depthwise-separable (5,1) convs, BiGRU, attention pooling"
    params = TinierHARParams
    head = "head"
    # Depthwise (grouped) convs are left out of every family: peft's conv LoRA needs the rank to be
    # divisible by the groups and cannot merge them, and a kernel [C, 1, 5, 1] has no input side
    # for a tensor-train update. "conv" matches the standard convs (separable=False) and the
    # shortcut 1x1 convs; "pointwise" the 1x1 convs of the separable blocks.
    targets = {
        "adapter": ("pointwise", "conv", "pool.score"),
        "conv": ("pointwise", "conv"),
        "linear": ("pool.score",),
        "recurrent": ("temporal",),
    }

    def build(self, *, channels: int, window: int, classes: int, params: Any) -> nn.Module:
        from .net import TinierHARNet

        return TinierHARNet(channels, window, classes, **params.to_dict())


PLUGINS = (TinierHAR,)
