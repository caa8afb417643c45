"""4-bit NF4 storage of frozen Linear weights (bitsandbytes) for QLoRA, and its float merge.

Imported when ``qlora`` runs (it imports torch and, inside the functions, bitsandbytes and peft).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from harbench.contracts import HarbenchError

from .._base import in_head, set_submodule
from .._targets import fused_ancestor

BLOCKSIZE = 64


def quantisable_linears(model: nn.Module, head: str) -> list[str]:
    """The Linear layers QLoRA stores in 4 bits: all but the head and fused-module sublayers."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and not in_head(name, head)
        and fused_ancestor(model, name) is None
    ]


def check_quant_state_on_load(
    module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
) -> None:
    """``load_state_dict`` pre-hook of a frozen 4-bit layer.

    bitsandbytes saves the quant state next to the weight (``weight.absmax``, ...) but torch's
    loader does not expect those keys, so a checkpoint of the adapted model (e.g. the training
    loop's best epoch) would not load back. The weight never trains: the entries are checked
    against the layer's own quant state and dropped; a different quantisation is an error.
    """
    own = module.weight.quant_state.as_dict(packed=True)
    stem = prefix + "weight."
    for key in [k for k in state_dict if k.startswith(stem)]:
        value, mine = state_dict.pop(key), own.get(key[len(stem) :])
        same = (
            isinstance(value, torch.Tensor)
            and isinstance(mine, torch.Tensor)
            and (torch.equal(value.cpu(), mine.cpu()))
        )
        if not same:
            error_msgs.append(f"{key} differs from the frozen 4-bit layer's quant state")


def quantise_linears(model: nn.Module, names: list[str], device: torch.device) -> None:
    """Swap the named Linear layers for frozen NF4 ``Linear4bit`` layers quantised on ``device``."""
    import bitsandbytes as bnb

    for name in names:
        linear = model.get_submodule(name)
        q = bnb.nn.Linear4bit(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            compute_dtype=torch.float32,
            compress_statistics=True,
            quant_type="nf4",
            device="meta",
        )
        q.weight = bnb.nn.Params4bit(
            linear.weight.detach().to("cpu", torch.float32).clone(),
            requires_grad=False,
            compress_statistics=True,
            quant_type="nf4",
            blocksize=BLOCKSIZE,
        )
        if linear.bias is not None:
            q.bias = nn.Parameter(
                linear.bias.detach().to("cpu", torch.float32).clone(), requires_grad=False
            )
        # bitsandbytes would repack the weight in place at the first eval-mode CPU forward on an
        # AVX512-BF16 CPU (a layout needing out % 32 == 0 and in % 64 == 0, scales un-nested):
        # off, so every shape works and the weight stays NF4 with double quantisation.
        q.support_avx512bf16_for_cpu = False
        q = q.to(device)  # bitsandbytes quantises here, not before
        q.register_load_state_dict_pre_hook(check_quant_state_on_load)
        if getattr(q.weight, "quant_state", None) is None:
            raise HarbenchError(f"method 'qlora': bitsandbytes did not quantise {name} on {device}")
        set_submodule(model, name, q)


def dequantised_linear(layer: nn.Module, delta: torch.Tensor | None = None) -> nn.Linear:
    """A float32 ``nn.Linear`` equal to a bitsandbytes 4-bit layer, plus ``delta`` on its weight."""
    import bitsandbytes as bnb

    weight = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state)
    weight = weight.to(torch.float32)
    if delta is not None:
        weight = weight + delta.to(weight)
    out = nn.Linear(
        layer.in_features, layer.out_features, bias=layer.bias is not None, device=weight.device
    )
    out.weight.data.copy_(weight)
    if layer.bias is not None:
        out.bias.data.copy_(layer.bias.data.to(torch.float32))
    return out.requires_grad_(False)




def merged_float_copy(model: nn.Module) -> nn.Module:
    """A float32 copy of a peft-wrapped 4-bit backbone: 4-bit weights dequantised, LoRA updates
    added; ``model`` is left as it was."""
    import bitsandbytes as bnb
    from peft.tuners.lora.bnb import Linear4bit as LoraLinear4bit

    base = copy.deepcopy(model.base_model.model)
    replaced: list[str] = []
    for name, module in list(base.named_modules()):
        if any(in_head(name, done) for done in replaced):
            continue  # inside a layer already replaced (a LoRA layer's base_layer)
        if isinstance(module, LoraLinear4bit):
            delta = sum(module.get_delta_weight(a) for a in module.active_adapters)
            set_submodule(base, name, dequantised_linear(module.get_base_layer(), delta))
        elif isinstance(module, bnb.nn.Linear4bit):
            set_submodule(base, name, dequantised_linear(module))
        else:
            continue
        replaced.append(name)
    base.is_loaded_in_4bit = False
    return base.eval()
