"""Plain 1-D CNN backbones over time, the kind of network LoRA-Edge adapts.

The input [B, T, C] is read as C input channels over T time steps. Every conv is a standard,
non-grouped ``nn.Conv1d`` (so conv adapters such as LoRA-Edge and peft's conv LoRA apply to all
of them), padded to keep the length ("same" for odd kernels), without bias when a BatchNorm
follows. Both end with global average pooling over time, dropout and Linear -> K.

- ``convnet1d``: ``depth`` blocks of conv -> BatchNorm -> ReLU, all ``width`` filters, with a
  max-pool halving the time axis after every ``pool_every``-th block (0: never).
- ``resnet1d``: a stem conv, then ``stages`` stages of ``blocks_per_stage`` residual basic blocks
  (conv -> BN -> ReLU -> conv -> BN, plus the shortcut, -> ReLU). Stage s has ``width * 2**s``
  filters; every stage after the first starts with stride 2, where the shortcut becomes a
  1x1 conv + BatchNorm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import ModelPlugin
from harbench.settings import PluginParams, setting

if TYPE_CHECKING:
    from torch import nn


CONV_TARGETS = {"adapter": ("conv", "conv1", "conv2"), "conv": ("conv", "conv1", "conv2"),
                "linear": ()}


@dataclass(frozen=True)
class ConvNet1dParams(PluginParams):
    """ConvNet1d's parameters."""

    width: int = setting(64, "filters of every conv", min=1, max=4096)
    depth: int = setting(4, "conv blocks", min=1, max=64)
    kernel: int = setting(5, "kernel length (odd keeps the length)", min=1, max=255)
    pool_every: int = setting(2, "max-pool /2 after every n-th block; 0 = never", min=0, max=64)
    dropout: float = setting(
        0.1, "dropout probability before the head", min=0, max=1, max_exclusive=True
    )


class ConvNet1d(ModelPlugin):
    name = "convnet1d"
    description = "plain 1-D CNN: Conv1d-BN-ReLU blocks, max-pool, global average pool"
    params = ConvNet1dParams
    head = "head"
    targets = CONV_TARGETS

    def build(self, *, channels: int, window: int, classes: int, params: Any) -> nn.Module:
        from .net import ConvNet1dNet

        return ConvNet1dNet(channels, window, classes, **params.to_dict())


@dataclass(frozen=True)
class ResNet1dParams(PluginParams):
    """ResNet1d's parameters."""

    width: int = setting(32, "filters of the first stage; doubled at every stage", min=1, max=1024)
    stages: int = setting(3, "stages; all but the first halve the time axis", min=1, max=8)
    blocks_per_stage: int = setting(1, "residual basic blocks per stage", min=1, max=16)
    kernel: int = setting(5, "kernel length (odd keeps the length)", min=1, max=255)
    dropout: float = setting(
        0.1, "dropout probability before the head", min=0, max=1, max_exclusive=True
    )


class ResNet1d(ModelPlugin):
    name = "resnet1d"
    description = "1-D ResNet: stem conv, residual basic blocks (Conv1d + BN), global average pool"
    params = ResNet1dParams
    head = "head"
    targets = CONV_TARGETS

    def build(self, *, channels: int, window: int, classes: int, params: Any) -> nn.Module:
        from .net import ResNet1dNet

        return ResNet1dNet(channels, window, classes, **params.to_dict())


PLUGINS = (ConvNet1d, ResNet1d)
