"""Tensor-Train SVD of conv kernels and the conv layer LoRA-Edge trains (see lora_edge.py).

Imported when ``lora_edge`` runs: it imports torch, and tensorly inside ``tt_decompose``.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

RANDOM_INIT_SCALE = 0.1


def tt_ranks(shape: tuple[int, ...], rank: int) -> list[int]:
    """TT ranks ``[1, r_1, .., r_{d-1}, 1]``: ``rank`` capped by what TT-SVD can realise."""
    ranks = [1]
    for j in range(1, len(shape)):
        left = math.prod(shape[:j])
        right = math.prod(shape[j:])
        ranks.append(min(rank, left, right, ranks[-1] * shape[j - 1]))
    ranks.append(1)
    return ranks


def _canonical_signs(cores: list[torch.Tensor]) -> list[torch.Tensor]:
    """Flip each bond so that the largest-magnitude entry of every left-core column is positive.

    Flipping column ``k`` of core ``j`` and row ``k`` of core ``j + 1`` leaves the train unchanged.
    """
    cores = [c.clone() for c in cores]
    for j in range(len(cores) - 1):
        r_prev, n, r = cores[j].shape
        columns = cores[j].reshape(r_prev * n, r)
        peak = columns.gather(0, columns.abs().argmax(dim=0, keepdim=True)).squeeze(0)
        sign = torch.where(peak < 0, -1.0, 1.0).to(columns.dtype)
        cores[j] = cores[j] * sign.view(1, 1, r)
        cores[j + 1] = cores[j + 1] * sign.view(r, 1, 1)
    return cores


def tt_decompose(kernel: torch.Tensor, rank: int) -> list[torch.Tensor]:
    """TT-SVD of a conv kernel ``[out, in/groups, *k]`` in mode order ``(in/groups, *k, out)``.

    Returns float64 cores ``[r_{j-1}, n_j, r_j]``; the last one is the output-side core.
    """
    import tensorly as tl
    from tensorly.decomposition import tensor_train

    modes = kernel.detach().to(torch.float64).cpu().movedim(0, -1).contiguous()
    ranks = tt_ranks(tuple(modes.shape), rank)
    with tl.backend_context("pytorch"):
        factors = tensor_train(modes, rank=ranks).factors
    return _canonical_signs([torch.as_tensor(f, dtype=torch.float64) for f in factors])


def contract_left(cores: list[torch.Tensor]) -> torch.Tensor:
    """Contract input-side cores ``[r_{j-1}, n_j, r_j]`` into a matrix ``[prod(n_j), r_last]``."""
    left = cores[0].reshape(cores[0].shape[1], cores[0].shape[2])
    for core in cores[1:]:
        r_prev, n, r = core.shape
        left = (left @ core.reshape(r_prev, n * r)).reshape(-1, r)
    return left


class TTConvUpdate(nn.Module):
    """A frozen conv plus a Tensor-Train update of its kernel: convolves with ``W0 + dW``."""

    def __init__(self, base: nn.Conv1d | nn.Conv2d, *, rank: int, init: str, train_all: bool):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        weight = base.weight
        cores = tt_decompose(weight, rank)
        self.mode_shape = tuple(weight.movedim(0, -1).shape)
        self.input_cores = nn.ParameterList(
            nn.Parameter(c.to(device=weight.device, dtype=weight.dtype), requires_grad=train_all)
            for c in cores[:-1]
        )
        update = torch.zeros(cores[-1].shape[0], weight.shape[0], dtype=weight.dtype,
                             device=weight.device)
        if init == "random":
            scale = RANDOM_INIT_SCALE * float(weight.detach().std(correction=0))
            update.normal_(0.0, scale)
        self.update = nn.Parameter(update)

    def delta(self) -> torch.Tensor:
        """``dW`` in the kernel layout ``[out, in/groups, *k]``."""
        left = contract_left(list(self.input_cores))
        return (left @ self.update).reshape(self.mode_shape).movedim(-1, 0).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base._conv_forward(x, self.base.weight + self.delta(), self.base.bias)

    def fused(self) -> nn.Conv1d | nn.Conv2d:
        """A plain conv with the same configuration whose kernel is ``W0 + dW``."""
        conv = copy.deepcopy(self.base)
        with torch.no_grad():
            conv.weight.copy_(self.base.weight + self.delta())
        for p in conv.parameters():
            p.requires_grad_(False)
        return conv

