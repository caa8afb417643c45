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
"""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError, ModelPlugin

KERNEL = 5
TEMPORAL = ("gru", "lstm", "none")
AGGREGATION = ("attention", "mean", "last")


class SeparableConv(nn.Module):
    """Depthwise (5, 1) conv per input channel, then a pointwise 1x1 conv."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_ch, in_ch, (KERNEL, 1), padding=(KERNEL // 2, 0), groups=in_ch
        )
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class Shortcut(nn.Module):
    """1x1 conv + BatchNorm where the channel count changes, then the block's pooling."""

    def __init__(self, in_ch: int, out_ch: int, pool: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None
        self.bn = nn.BatchNorm2d(out_ch) if in_ch != out_ch else None
        self.pool = nn.MaxPool2d((2, 1)) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.bn(self.conv(x))
        if self.pool is not None:
            x = self.pool(x)
        return x


class ConvBlock(nn.Module):
    """conv -> BatchNorm -> ReLU (-> MaxPool on time), plus a shortcut when ``residual``."""

    def __init__(self, in_ch: int, out_ch: int, *, pool: bool, residual: bool, separable: bool):
        super().__init__()
        if separable:
            self.conv: nn.Module = SeparableConv(in_ch, out_ch)
        else:
            self.conv = nn.Conv2d(in_ch, out_ch, (KERNEL, 1), padding=(KERNEL // 2, 0))
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d((2, 1)) if pool else nn.Identity()
        self.shortcut = Shortcut(in_ch, out_ch, pool) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(self.act(self.bn(self.conv(x))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


class AttentionPool(nn.Module):
    """Softmax-weighted sum over time with scores from Linear(D -> 1)."""

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, D]
        weights = torch.softmax(self.score(x), dim=1)
        return (weights * x).sum(dim=1)


class TinierHARNet(nn.Module):
    def __init__(
        self, channels: int, window: int, classes: int, *, filters: int = 4, hidden: int = 16,
        dropout: float = 0.3, residual: bool = True, separable: bool = True,
        temporal: str = "gru", aggregation: str = "attention",
    ):
        super().__init__()
        if window < 4:
            raise HarbenchError(
                f"model 'tinierhar' needs a window of at least 4 samples, got {window}"
            )
        if filters < 1 or hidden < 1:
            raise HarbenchError(
                f"model 'tinierhar' needs filters >= 1 and hidden >= 1, got {filters} and {hidden}"
            )
        if temporal not in TEMPORAL:
            raise HarbenchError(f"model 'tinierhar' parameter 'temporal' must be one of "
                                f"{TEMPORAL}, got {temporal!r}")
        if aggregation not in AGGREGATION:
            raise HarbenchError(f"model 'tinierhar' parameter 'aggregation' must be one of "
                                f"{AGGREGATION}, got {aggregation!r}")
        m = filters
        kind = {"residual": residual, "separable": separable}
        blocks = [
            ConvBlock(1, m, pool=True, **kind),
            ConvBlock(m, 2 * m, pool=True, **kind),
        ]
        blocks += [ConvBlock(2 * m, 2 * m, pool=False, **kind) for _ in range(4)]
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        features = 2 * m * channels
        self.temporal: nn.Module | None = None
        out_dim = features
        if temporal == "gru":
            self.temporal = nn.GRU(features, hidden, batch_first=True, bidirectional=True)
            out_dim = 2 * hidden
        elif temporal == "lstm":
            self.temporal = nn.LSTM(features, hidden, batch_first=True, bidirectional=True)
            out_dim = 2 * hidden
        self.aggregation = aggregation
        self.pool = AttentionPool(out_dim) if aggregation == "attention" else None
        self.head = nn.Linear(out_dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        h = self.blocks(x.unsqueeze(1))  # [B, 2M, T/4, C]
        b, f, t, c = h.shape
        h = h.permute(0, 2, 1, 3).reshape(b, t, f * c)
        h = self.dropout(h)
        if self.temporal is not None:
            h, _ = self.temporal(h)
        if self.pool is not None:
            z = self.pool(h)
        elif self.aggregation == "mean":
            z = h.mean(dim=1)
        else:
            z = h[:, -1]
        return self.head(z)


class TinierHAR(ModelPlugin):
    name = "tinierhar"
    description = "TinierHAR: residual depthwise-separable (5,1) convs, BiGRU, attention pooling"
    defaults = {
        "filters": 4,  # M: block 1 has M filters, blocks 2-6 have 2M
        "hidden": 16,  # N: GRU units per direction
        "dropout": 0.3,  # before the recurrent layer
        "residual": True,  # shortcut connections
        "separable": True,  # depthwise + pointwise, else one standard (5,1) conv per block
        "temporal": "gru",  # gru | lstm | none
        "aggregation": "attention",  # attention | mean | last
    }
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

    def build(self, *, channels: int, window: int, classes: int, **params) -> nn.Module:
        return TinierHARNet(channels, window, classes, **params)


PLUGINS = (TinierHAR,)
