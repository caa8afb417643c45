"""The network of example_net: float32 [B, T, C] -> logits [B, K]."""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, channels: int, classes: int, width: int = 16):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, width, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm1d(width)
        self.conv2 = nn.Conv1d(width, width, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm1d(width)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)
        h = torch.relu(self.bn1(self.conv1(h)))
        h = torch.relu(self.bn2(self.conv2(h)))
        return self.head(h.mean(dim=2))
