"""TinierHAR network (see ``harbench_models.tinierhar`` for the architecture)."""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError

from .._kernels import fast_enabled, max_pool_half, pointwise

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
        return pointwise(self.pointwise, self.depthwise(x))


class Shortcut(nn.Module):
    """1x1 conv + BatchNorm where the channel count changes, then the block's pooling."""

    def __init__(self, in_ch: int, out_ch: int, pool: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None
        self.bn = nn.BatchNorm2d(out_ch) if in_ch != out_ch else None
        self.pool = nn.MaxPool2d((2, 1)) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.bn(pointwise(self.conv, x))
        if self.pool is not None:
            x = max_pool_half(self.pool, x)
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
        if fast_enabled():  # max and ReLU commute: pooling first halves the ReLU's work
            out = self.act(max_pool_half(self.pool, self.bn(self.conv(x))))
        else:
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
