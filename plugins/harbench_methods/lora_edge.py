"""LoRA-Edge (arXiv 2511.03765): a Tensor-Train update of pre-trained conv kernels, fused after.

For every targeted ``Conv1d``/``Conv2d`` with pre-trained kernel ``W0`` of shape
``[out, in/groups, *kernel]``:

1. ``W0`` is permuted to the mode order ``(in/groups, k_1[, k_2], out)`` — input side first, the
   output channels last — and decomposed by TT-SVD (tensorly, PyTorch backend, float64) into
   cores ``G_1 .. G_d``; every TT rank is ``rank``, capped by the TT-SVD limits
   ``r_j <= min(prod(n_1..n_j), prod(n_j+1..n_d))``.
2. The input-side cores ``G_1 .. G_{d-1}`` are kept frozen. The output-side core is replaced by a
   trainable update core ``U`` of shape ``[r_{d-1}, out]`` that starts at zero.
3. The layer convolves with ``W0 + dW``, where ``dW`` is the TT contraction of the frozen cores with
   ``U``, permuted back to the kernel layout. With ``U = 0`` the adapted model is exactly the
   pre-trained one at step 0.
4. ``merge`` fuses ``W0 + dW`` into a plain dense conv with the same stride, padding, dilation,
   groups and bias: the deployed model has the backbone's architecture, size and MACs.

The head trains fully. BatchNorm stays frozen, statistics and affine parameters alike
(``bn_policy = "frozen"``): the paper's abstract says only the output-side core is updated and
does not say what happens to BatchNorm, so harbench keeps the pre-trained statistics, as it does
for LoRA. The trainable state (``adapter_state``) is thus the update cores plus the head.

The frozen cores come out of TT-SVD with a canonical sign (the largest entry of every left
singular vector is positive), so a given ``W0`` gives the same cores up to rounding (barring
repeated singular values), and an ``adapter_state`` can be loaded into a freshly adapted copy of
the same backbone.

Default rank 2: on the 1-D conv backbones at HAPT shapes (6 channels, 200 samples, 12 classes)
the update cores are under 0.8% of the backbone's parameters and, with the fully trained head,
the trainable share is about 1.6% (resnet1d) to 2.0% (convnet1d); rank 4 doubles the cores' part.

Ablations: ``train_all_cores`` (the input-side cores train too), ``init="random"`` (the update
core starts at ``N(0, (0.1 * std(W0))^2)`` instead of zero), ``fuse=False`` (``merge`` returns
the unfused model).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from harbench.contracts import HarbenchError, MethodPlugin

from .common import default_targets, freeze, head_name, require_trainable, unfreeze_modules

CONV_TYPES = (nn.Conv1d, nn.Conv2d)
INITS = ("zero", "random")
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


def _is_head(name: str, head: str) -> bool:
    return name == head or name.startswith(head + ".")


def resolve_conv_targets(model: nn.Module, targets: Any) -> list[str]:
    """Names of the convs to adapt: each entry of ``targets`` is a layer family the model plugin
    declares (such as "conv") or a module-name suffix. Without declared families, every conv
    outside the head is a target. Never the head."""
    if any(isinstance(m, TTConvUpdate) for m in model.modules()):
        raise HarbenchError(
            f"method 'lora_edge': {type(model).__name__} is already adapted by lora_edge; "
            "adapt the pre-trained backbone, or merge first"
        )
    head = head_name(model)
    convs = [
        n for n, m in model.named_modules() if isinstance(m, CONV_TYPES) and not _is_head(n, head)
    ]
    if not convs:
        raise HarbenchError(
            f"method 'lora_edge' adapts Conv1d/Conv2d layers, but {type(model).__name__} "
            f"({getattr(model, 'harbench_model', 'unnamed backbone')}) has none outside its head "
            f"{head!r}; use lora or full for this backbone"
        )
    entries = [targets] if isinstance(targets, str) else list(targets or ())
    entries = ["conv" if e in ("", "default") else e for e in entries] or ["conv"]
    if entries == ["conv"] and not default_targets(model, "conv"):
        return convs
    suffixes: list[str] = []
    for entry in entries:
        suffixes += default_targets(model, entry) or [entry]
    names = [n for n in convs if any(n == s or n.endswith("." + s) for s in suffixes)]
    if not names:
        raise HarbenchError(
            f"method 'lora_edge' parameter 'targets': {entries} matches no Conv1d/Conv2d layer "
            f"of {type(model).__name__}; its convs are {convs[:8]}"
        )
    return names


def _check_params(rank: Any, init: Any) -> None:
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise HarbenchError(f"method 'lora_edge' parameter 'rank' must be an integer >= 1, "
                            f"got {rank!r}")
    if init not in INITS:
        raise HarbenchError(f"method 'lora_edge' parameter 'init' must be one of {INITS}, "
                            f"got {init!r}")


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


class LoRAEdge(MethodPlugin):
    name = "lora_edge"
    description = "LoRA-Edge: TT-SVD of conv kernels, zero-initialised output-side core, fused"
    defaults = {
        "rank": 2,
        "train_all_cores": False,
        "init": "zero",
        "fuse": True,
        "targets": ("conv",),
    }
    bn_policy = "frozen"

    def adapt(self, model: nn.Module, **params: Any) -> nn.Module:
        merged = {**self.defaults, **params}
        _check_params(merged["rank"], merged["init"])
        names = resolve_conv_targets(model, merged["targets"])
        freeze(model)
        for name in names:
            wrapper = TTConvUpdate(
                model.get_submodule(name), rank=merged["rank"], init=merged["init"],
                train_all=bool(merged["train_all_cores"]),
            )
            _replace(model, name, wrapper)
        unfreeze_modules(model, [head_name(model)])
        model.lora_edge_fuse = bool(merged["fuse"])
        return require_trainable(model, self.name)

    def merge(self, model: nn.Module) -> nn.Module:
        """A copy of ``model`` with every TT update fused into a dense conv (unless fuse=False)."""
        if not getattr(model, "lora_edge_fuse", True):
            return model
        fused = copy.deepcopy(model)
        wrappers = [n for n, m in fused.named_modules() if isinstance(m, TTConvUpdate)]
        for name in wrappers:
            _replace(fused, name, fused.get_submodule(name).fused())
        return fused


PLUGINS = (LoRAEdge,)
