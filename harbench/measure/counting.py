"""Parameter and MAC counts for one window.

Convention: MACs are the multiply-accumulates of convolutions, linear layers, attention matmuls
(as counted by ``torch.utils.flop_counter``, divided by two) and recurrent cells. Recurrent layers
(RNN, GRU, LSTM) are counted analytically per time step and direction,
``gates * (input * hidden + hidden * hidden)`` (plus the projection for LSTMs with ``proj_size``),
whatever kernel runs them, so a fused cuDNN RNN and the CPU path agree. Element-wise work
(activations, normalisation, softmax, gate non-linearities, biases) is not counted.
Convolutions are counted as their own modules compute them: while counting, every conv carries a
no-op hook, so a backbone that runs plain convs through fast kernels of its own (which must fall
back to the module when it carries hooks) is counted like the plain conv.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

GATES = {nn.RNN: 1, nn.GRU: 3, nn.LSTM: 4}


def head_module(model: nn.Module, head: str) -> nn.Module | None:
    """The classifier submodule called ``head`` (also found inside a wrapper such as peft's,
    where its name gains a prefix: ``base_model.model.head``); None when there is none."""
    modules = dict(model.named_modules())
    if head in modules:
        return modules[head]
    inside = sorted((n.count("."), n) for n in modules if n.endswith("." + head))
    if not inside or (len(inside) > 1 and inside[0][0] == inside[1][0]):
        return None
    return modules[inside[0][1]]  # the shallowest: a wrapper's prefix, not a nested namesake


def parameter_counts(model: nn.Module, *, without: str | None = None) -> tuple[int, int]:
    """(total, trainable) parameter counts; a 4-bit packed weight counts its logical elements.

    ``without``: the name of a submodule (the classifier head) whose parameters are left out;
    an unknown name is an error, so a share "without the head" never silently includes it.
    """
    excluded: set[int] = set()
    if without:
        module = head_module(model, without)
        if module is None:
            raise ValueError(f"{type(model).__name__} has no single submodule named {without!r}")
        excluded = {id(p) for p in module.parameters()}
    total = trainable = 0
    seen: set[int] = set()
    for p in model.parameters():
        if id(p) in seen or id(p) in excluded:
            continue
        seen.add(id(p))
        n = logical_numel(p)
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


def trainable_shares(base: dict[str, int], adapted: dict[str, int]) -> dict[str, float]:
    """Trainable share of an adapted model against its backbone before adaptation.

    ``trainable_share``: trainable / backbone parameters, the head included on both sides.
    ``trainable_share_no_head``: the same with the classifier head left out of both counts
    (needs the ``*_no_head`` counts of :func:`count` with a ``head``; absent otherwise). Both are
    kept because papers rarely say which they report: LoRA-Edge's abstract ("at most 1.49% of
    parameters") does not say whether its head, which trains fully, is counted.
    """
    out = {"trainable_share": adapted["trainable"] / max(1, base["params"])}
    if "trainable_no_head" in adapted and "params_no_head" in base:
        out["trainable_share_no_head"] = adapted["trainable_no_head"] / max(
            1, base["params_no_head"]
        )
    return out


def logical_numel(p: torch.Tensor) -> int:
    """Number of weights a parameter stands for (bitsandbytes 4-bit packs two per byte)."""
    quant_state = getattr(p, "quant_state", None)
    if quant_state is not None and getattr(quant_state, "shape", None) is not None:
        return int(torch.Size(quant_state.shape).numel())
    return p.numel()


def recurrent_macs(module: nn.RNNBase, steps: int, batch: int) -> int:
    """Analytic MACs of a recurrent layer over ``steps`` time steps."""
    gates = next(g for t, g in GATES.items() if isinstance(module, t))
    directions = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    proj = getattr(module, "proj_size", 0) or 0
    out_hidden = proj or hidden
    macs = 0
    for layer in range(module.num_layers):
        inp = module.input_size if layer == 0 else out_hidden * directions
        per_step = gates * hidden * (inp + out_hidden) + (hidden * proj if proj else 0)
        macs += per_step * steps * batch * directions
    return macs


def _called(module: nn.Module, args: Any, output: Any) -> None:
    """A no-op forward hook: its presence makes a backbone run the layer's own forward."""


def count_macs(model: nn.Module, example: torch.Tensor) -> int:
    """MACs of one forward pass on ``example`` (under the convention above)."""
    counter = FlopCounterMode(display=False)
    corrections: list[int] = []
    handles = []

    def pre_hook(module, args):
        module._harbench_flops_before = counter.get_total_flops()

    def post_hook(module, args, output):
        seen_flops = counter.get_total_flops() - module._harbench_flops_before
        x = args[0]
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise ValueError("count_macs does not support packed sequences")
        if x.dim() == 2:  # unbatched: [steps, features] whatever batch_first says
            steps, batch = x.shape[0], 1
        elif module.batch_first:
            batch, steps = x.shape[0], x.shape[1]
        else:
            steps, batch = x.shape[0], x.shape[1]
        corrections.append(recurrent_macs(module, steps, batch) - seen_flops // 2)

    for module in model.modules():
        if isinstance(module, tuple(GATES)):
            handles.append(module.register_forward_pre_hook(pre_hook))
            handles.append(module.register_forward_hook(post_hook))
        elif isinstance(module, nn.modules.conv._ConvNd):
            # a backbone may compute a plain conv with fast element-wise kernels on its weights
            # (invisible to the flop counter); by contract it calls a conv that carries hooks
            handles.append(module.register_forward_hook(_called))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return counter.get_total_flops() // 2 + sum(corrections)


def count(
    model: nn.Module, *, window: int, channels: int, head: str | None = None
) -> dict[str, int]:
    """{"params", "trainable", "macs"} for one window of shape [1, window, channels]; with
    ``head`` (the classifier submodule's name) also "params_no_head" and "trainable_no_head"."""
    total, trainable = parameter_counts(model)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    example = torch.zeros(1, window, channels, device=device)
    out = {"params": total, "trainable": trainable, "macs": count_macs(model, example)}
    if head:
        out["params_no_head"], out["trainable_no_head"] = parameter_counts(model, without=head)
    return out
