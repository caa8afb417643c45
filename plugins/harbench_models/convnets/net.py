"""ConvNet1d and ResNet1d networks (see ``harbench_models.convnets`` for the architectures)."""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError

from .._kernels import max_pool_half


def _check(model: str, **values: int) -> None:
    for key, value in values.items():
        if value < 1:
            raise HarbenchError(f"model {model!r} parameter {key!r} must be >= 1, got {value}")


class ConvBNReLU(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm1d(out_ch)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class PoolHead(nn.Module):
    """Global average pool over time -> dropout; the classifier lives on the network as ``head``."""

    def __init__(self, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, D, T] -> [B, D]
        return self.dropout(x.mean(dim=-1))


class ConvNet1dNet(nn.Module):
    def __init__(self, channels: int, window: int, classes: int, *, width: int = 64,
                 depth: int = 4, kernel: int = 5, pool_every: int = 2, dropout: float = 0.1):
        super().__init__()
        _check("convnet1d", width=width, depth=depth, kernel=kernel)
        layers: list[nn.Module] = []
        length = window
        for i in range(depth):
            layers.append(ConvBNReLU(channels if i == 0 else width, width, kernel))
            if pool_every > 0 and (i + 1) % pool_every == 0 and length >= 2:
                layers.append(nn.MaxPool1d(2))
                length //= 2
        self.layers = nn.Sequential(*layers)
        self.pool = PoolHead(dropout)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        h = x.transpose(1, 2)
        for layer in self.layers:
            h = max_pool_half(layer, h) if isinstance(layer, nn.MaxPool1d) else layer(h)
        return self.head(self.pool(h))


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel, stride, padding=kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.act = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential()
            self.shortcut.add_module("conv", nn.Conv1d(in_ch, out_ch, 1, stride, bias=False))
            self.shortcut.add_module("bn", nn.BatchNorm1d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act(out + self.shortcut(x))


class ResNet1dNet(nn.Module):
    def __init__(self, channels: int, window: int, classes: int, *, width: int = 32,
                 stages: int = 3, blocks_per_stage: int = 1, kernel: int = 5,
                 dropout: float = 0.1):
        super().__init__()
        _check("resnet1d", width=width, stages=stages, blocks_per_stage=blocks_per_stage,
               kernel=kernel)
        self.stem = ConvBNReLU(channels, width, kernel)
        blocks: list[nn.Module] = []
        in_ch = width
        for s in range(stages):
            out_ch = width * 2**s
            for b in range(blocks_per_stage):
                stride = 2 if s > 0 and b == 0 else 1
                blocks.append(BasicBlock(in_ch, out_ch, kernel, stride))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.pool = PoolHead(dropout)
        self.head = nn.Linear(in_ch, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        return self.head(self.pool(self.blocks(self.stem(x.transpose(1, 2)))))
