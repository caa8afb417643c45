"""Parameter and MAC counts for one window.

Convention: MACs are the multiply-accumulates of convolutions, linear layers, attention matmuls
(as counted by ``torch.utils.flop_counter``, divided by two) and recurrent cells. Recurrent layers
(RNN, GRU, LSTM) are counted analytically per time step and direction,
``gates * (input * hidden + hidden * hidden)`` (plus the projection for LSTMs with ``proj_size``),
whatever kernel runs them, so a fused cuDNN RNN and the CPU path agree. Element-wise work
(activations, normalisation, softmax, gate non-linearities, biases) is not counted.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

GATES = {nn.RNN: 1, nn.GRU: 3, nn.LSTM: 4}


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; a 4-bit packed weight counts its logical elements."""
    total = trainable = 0
    seen: set[int] = set()
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n = logical_numel(p)
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


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


def count(model: nn.Module, *, window: int, channels: int) -> dict[str, int]:
    """{"params", "trainable", "macs"} for one window of shape [1, window, channels]."""
    total, trainable = parameter_counts(model)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    example = torch.zeros(1, window, channels, device=device)
    return {"params": total, "trainable": trainable, "macs": count_macs(model, example)}
