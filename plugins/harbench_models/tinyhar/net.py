"""TinyHAR network (see ``harbench_models.tinyhar`` for the architecture)."""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError

from .._kernels import single_channel_temporal

STRIDES = (1, 2, 1, 2)


def conv_length(window: int, kernel: int, strides: tuple[int, ...] = STRIDES) -> int:
    """Time steps left after the unpadded convs."""
    length = window
    for stride in strides:
        length = (length - kernel) // stride + 1
    return length


class ConvUnit(nn.Module):
    """(k, 1) conv, no padding -> ReLU -> BatchNorm."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, (kernel, 1), stride=(stride, 1))
        self.act = nn.ReLU()
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.act(single_channel_temporal(self.conv, x)))


class ChannelAttention(nn.Module):
    """Self-attention across sensor channels, added to the input with a learned weight."""

    def __init__(self, dim: int):
        super().__init__()
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, F] -> [N, C, F]
        weights = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2), dim=-1)
        return x + self.gamma * (weights @ self.v(x))


class TemporalAttention(nn.Module):
    """Last hidden state + gamma x (attention-weighted sum of the hidden states)."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # [B, L, D] -> [B, D]
        weights = torch.softmax(self.score(torch.tanh(self.proj(h))), dim=1)
        context = (weights * h).sum(dim=1)
        return h[:, -1] + self.gamma * context


class TinyHARNet(nn.Module):
    def __init__(self, channels: int, window: int, classes: int, *, filters: int = 20,
                 kernel: int = 5, dropout: float = 0.1):
        super().__init__()
        if filters < 1 or kernel < 1:
            raise HarbenchError(f"model 'tinyhar' needs filters >= 1 and kernel >= 1, "
                                f"got {filters} and {kernel}")
        if conv_length(window, kernel) < 1:
            raise HarbenchError(
                f"model 'tinyhar' needs a longer window: {window} samples leave no time step "
                f"after four unpadded ({kernel}, 1) convs with strides {STRIDES}"
            )
        f = filters
        self.convs = nn.ModuleList(
            ConvUnit(1 if i == 0 else f, f, kernel, stride) for i, stride in enumerate(STRIDES)
        )
        self.channel_attention = ChannelAttention(f)
        self.dropout = nn.Dropout(dropout)
        self.fusion = nn.Linear(channels * f, 2 * f)
        self.act = nn.ReLU()
        self.lstm = nn.LSTM(2 * f, 2 * f, batch_first=True)
        self.temporal_attention = TemporalAttention(2 * f)
        self.head = nn.Linear(2 * f, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        h = x.unsqueeze(1)
        for unit in self.convs:
            h = unit(h)  # [B, F, L, C]
        b, f, length, c = h.shape
        tokens = h.permute(0, 2, 3, 1).reshape(b * length, c, f)  # one token per sensor channel
        tokens = self.dropout(self.channel_attention(tokens))
        h = self.act(self.fusion(tokens.reshape(b, length, c * f)))
        h, _ = self.lstm(h)
        return self.head(self.temporal_attention(h))
