"""TinierHAR (arXiv 2507.07949): residual depthwise-separable convs + BiGRU + attention pooling.

The input [B, T, C] is viewed as one image channel over (time, sensor channel). Every conv kernel
is (5, 1): along time only, shared across sensor channels.
"""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError, ModelPlugin


def _conv(in_ch: int, out_ch: int, separable: bool) -> nn.Sequential:
    """A (5, 1) temporal conv: depthwise + pointwise when ``separable``, else a standard conv."""
    if separable:
        return nn.Sequential(
            nn.Conv2d(in_ch, in_ch, (5, 1), padding=(2, 0), groups=in_ch),
            nn.Conv2d(in_ch, out_ch, 1),
        )
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, (5, 1), padding=(2, 0)))


class ConvBlock(nn.Module):
    """conv -> BatchNorm -> ReLU (-> MaxPool on time), plus a residual shortcut when enabled."""

    def __init__(self, in_ch: int, out_ch: int, *, pool: bool, residual: bool, separable: bool):
        super().__init__()
        self.conv = _conv(in_ch, out_ch, separable)
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d((2, 1)) if pool else nn.Identity()
        self.shortcut: nn.Module | None = None
        if residual:
            if in_ch != out_ch or pool:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_ch, out_ch, 1), nn.BatchNorm2d(out_ch), self.pool
                )
            else:
                self.shortcut = nn.Identity()

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
            raise HarbenchError(f"tinierhar needs a window of at least 4 samples, got {window}")
        m = filters
        blocks = [
            ConvBlock(1, m, pool=True, residual=residual, separable=separable),
            ConvBlock(m, 2 * m, pool=True, residual=residual, separable=separable),
        ]
        blocks += [
            ConvBlock(2 * m, 2 * m, pool=False, residual=residual, separable=separable)
            for _ in range(4)
        ]
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        features = 2 * m * channels
        self.temporal_kind = temporal
        if temporal == "gru":
            self.temporal = nn.GRU(features, hidden, batch_first=True, bidirectional=True)
            out_dim = 2 * hidden
        elif temporal == "lstm":
            self.temporal = nn.LSTM(features, hidden, batch_first=True, bidirectional=True)
            out_dim = 2 * hidden
        elif temporal == "none":
            self.temporal = None
            out_dim = features
        else:
            raise HarbenchError(f"tinierhar temporal must be gru, lstm or none, got {temporal!r}")
        if aggregation == "attention":
            self.pool = AttentionPool(out_dim)
        elif aggregation in ("mean", "last"):
            self.pool = None
        else:
            raise HarbenchError(
                f"tinierhar aggregation must be attention, mean or last, got {aggregation!r}"
            )
        self.aggregation = aggregation
        self.head = nn.Linear(out_dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        h = self.blocks(x.unsqueeze(1))  # [B, 2M, T/4, C]
        b, f, t, c = h.shape
        h = h.permute(0, 2, 1, 3).reshape(b, t, f * c)
        h = self.dropout(h)
        if self.temporal is not None:
            h, _ = self.temporal(h)
        if self.aggregation == "attention":
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
        "filters": 4,
        "hidden": 16,
        "dropout": 0.3,
        "residual": True,
        "separable": True,
        "temporal": "gru",
        "aggregation": "attention",
    }
    head = "head"
    # Depthwise convs are left out of the adapter default: peft's conv LoRA needs the rank to be
    # divisible by the groups and cannot merge grouped convs.
    targets = {
        "adapter": ("conv.1", "pool.score"),
        "linear": ("head", "pool.score"),
        "conv": ("conv.0", "conv.1"),
        "recurrent": ("temporal",),
    }

    def build(self, *, channels: int, window: int, classes: int, **params) -> nn.Module:
        return TinierHARNet(channels, window, classes, **params)


PLUGINS = (TinierHAR,)
