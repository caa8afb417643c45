"""Fast CPU/GPU kernels for narrow convolutions, computing exactly what the nn modules compute.

oneDNN runs convolutions with 1-8 channels poorly (the backward of a 1x1 conv on 1-8 channels
alone was a fifth of TinierHAR's CPU time), so a network's ``forward`` calls these helpers on its
own conv children instead of calling the children. Each helper takes the fast path only when the
child is still the plain ``nn.Conv1d``/``nn.Conv2d`` it was built as, without hooks: a child that
an adapter wrapped or replaced (peft LoRA, LoRA-Edge, a parametrisation) is simply called. The
weights keep their conv shape and their names, so state_dicts, parameter counts and MACs (a
matmul counts the same multiply-accumulates as the conv it replaces) do not change.

``plain_kernels()`` switches every fast path off (the reference computation the tests compare
against, and the "plain module" of ``benchmarks/epoch_speed.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_fast = True
_GLOBAL_HOOKS = tuple(
    getattr(nn.modules.module, name, {})
    for name in ("_global_forward_hooks", "_global_forward_pre_hooks",
                 "_global_backward_hooks", "_global_backward_pre_hooks")
)


@contextmanager
def plain_kernels() -> Iterator[None]:
    """Within this block every network calls its conv modules as they are (no fast path)."""
    global _fast
    before, _fast = _fast, False
    try:
        yield
    finally:
        _fast = before


def fast_enabled() -> bool:
    return _fast


def _unhooked(module: nn.Module) -> bool:
    """Whether calling ``module`` would run no hook (its own or a global one)."""
    own = (module._forward_hooks, module._forward_pre_hooks, module._backward_hooks,
           module._backward_pre_hooks)
    return not any(own) and not any(_GLOBAL_HOOKS)


def _plain(conv: nn.Module, kind: type) -> bool:
    """Whether ``conv`` is an unhooked, unwrapped module of exactly ``kind`` (fast path allowed)."""
    return (
        _fast
        and type(conv) is kind
        and _unhooked(conv)
        and conv.padding_mode == "zeros"
        and all(d == 1 for d in conv.dilation)
    )


def pointwise(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for a 1x1 conv (stride 1, no padding, one group) as one batched matmul."""
    if not (
        _plain(conv, nn.Conv2d if x.dim() == 4 else nn.Conv1d)
        and all(k == 1 for k in conv.kernel_size)
        and all(s == 1 for s in conv.stride)
        and all(p == 0 for p in conv.padding)
        and conv.groups == 1
    ):
        return conv(x)
    b, c = x.shape[:2]
    weight = conv.weight.reshape(conv.out_channels, c)
    flat = x.reshape(b, c, -1)
    if conv.bias is None:
        out = torch.matmul(weight, flat)
    else:
        out = torch.baddbmm(
            conv.bias[None, :, None], weight.expand(b, *weight.shape), flat
        )
    return out.reshape(b, conv.out_channels, *x.shape[2:])


def single_channel_temporal(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for an unpadded (k, 1) Conv2d with stride (s, 1) on a one-channel input
    [B, 1, T, S], as one matmul over the k-sample windows (oneDNN is slowest on one channel;
    wider inputs measured faster as convs)."""
    if not (
        _plain(conv, nn.Conv2d)
        and conv.in_channels == 1
        and conv.kernel_size[1] == 1
        and conv.stride[1] == 1
        and conv.padding == (0, 0)
        and conv.groups == 1
    ):
        return conv(x)
    k, stride = conv.kernel_size[0], conv.stride[0]
    b = x.shape[0]
    windows = x[:, 0].unfold(1, k, stride)  # [B, L, S, k]
    steps, sensors = windows.shape[1], windows.shape[2]
    columns = windows.permute(0, 3, 1, 2).reshape(b, k, steps * sensors)
    weight = conv.weight.reshape(conv.out_channels, k)
    if conv.bias is None:
        out = torch.matmul(weight, columns)
    else:
        out = torch.baddbmm(conv.bias[None, :, None], weight.expand(b, *weight.shape), columns)
    return out.reshape(b, conv.out_channels, steps, sensors)


class _PairMax(torch.autograd.Function):
    """Max of the pairs (2i, 2i + 1) along dim 2; the gradient goes to the first of equal values,
    as max-pooling's does."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        pairs = x.unflatten(2, (-1, 2))
        first, second = pairs.select(3, 0), pairs.select(3, 1)
        keep_first = first >= second
        ctx.save_for_backward(keep_first)
        return torch.maximum(first, second)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (keep_first,) = ctx.saved_tensors
        to_first = grad * keep_first.to(grad.dtype)
        return torch.stack((to_first, grad - to_first), dim=3).flatten(2, 3)


def _halving(pool: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``pool`` is a plain max-pool of 2 (stride 2) along dim 2 of ``x`` only."""
    if not (_fast and _unhooked(pool)):
        return False
    if type(pool) is nn.MaxPool1d and x.dim() == 3:
        shape = ((pool.kernel_size,), (pool.stride,), (pool.padding,), (pool.dilation,))
        want = ((2,), (2,), (0,), (1,))
    elif type(pool) is nn.MaxPool2d and x.dim() == 4:
        shape = tuple(
            tuple(v) if isinstance(v, tuple) else (v, v)
            for v in (pool.kernel_size, pool.stride, pool.padding, pool.dilation)
        )
        want = ((2, 1), (2, 1), (0, 0), (1, 1))
    else:
        return False
    return shape == want and not pool.ceil_mode and not pool.return_indices


def max_pool_half(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``pool(x)`` for a max-pool of 2 along the time axis (dim 2): ``MaxPool1d(2)`` on [B, C, T]
    or ``MaxPool2d((2, 1))`` on [B, C, T, S], as an element-wise max of the two halves of each
    pair (an odd last step is dropped, as the pool does)."""
    if not _halving(pool, x):
        return pool(x)
    steps = x.shape[2] // 2 * 2
    if steps != x.shape[2]:
        x = x.narrow(2, 0, steps)
    return _PairMax.apply(x)
