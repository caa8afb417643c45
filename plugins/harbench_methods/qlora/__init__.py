"""QLoRA: the frozen Linear weights in 4-bit NF4 with double quantisation, LoRA on top.

Every ``nn.Linear`` of the backbone except the head (which trains in float32) and except the
sublayers of fused torch modules (which read ``.weight`` as a float tensor) becomes a
bitsandbytes ``Linear4bit`` (NF4, blocks of 64, double-quantised scales, float32 compute).
bitsandbytes quantises only when the layer is moved with ``.to(device)``, so the layers are moved
to the backbone's own device (CPU or CUDA) right after the swap; ``is_loaded_in_4bit`` is set on
the backbone, which is what makes peft wrap the targets with its 4-bit LoRA layer.

bitsandbytes 0.50 also repacks a 4-bit weight in place at the first eval-mode CPU forward on a CPU
with AVX512-BF16 (a layout that needs out_features % 32 == 0 and in_features % 64 == 0, and that
un-nests the double-quantised scales); harbench turns that path off on its layers.

QLoRA adapts Linear layers only: a conv target is refused, and a backbone without a Linear
target is refused.

``merge`` returns a plain float32 backbone: every 4-bit weight is dequantised and the LoRA update
added to it. It reproduces the trained 4-bit model's outputs up to float32 rounding (the 4-bit
layer dequantises the same way before its matmul; tests hold it to 1e-4 absolute on logits),
not the original float model's: the NF4 rounding of the frozen weights is part of what was
trained on. peft's own ``merge_and_unload`` would instead re-quantise the merged weight to 4 bits,
rounding the update away.

The NF4 code (torch, bitsandbytes, peft) is ``nf4.py`` beside this file, imported when the
method runs. QLoRA takes LoRA's parameters (``alpha`` null: ``2 * r``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbench.contracts import ModelInfo

from .._base import LINEAR_ONLY
from ..lora import LoRA

if TYPE_CHECKING:
    from torch import nn


class QLoRA(LoRA):
    name = "qlora"
    description = "QLoRA: frozen Linear weights in 4-bit NF4 (double quant), LoRA on top"
    version = "2"  # alpha defaults to 2 * r (was a fixed 16)
    support = LINEAR_ONLY
    needs = ("linear",)

    def prepare(
        self, model: nn.Module, info: ModelInfo, targets: list[str], params: Any
    ) -> nn.Module:
        import torch

        from .nf4 import quantisable_linears, quantise_linears

        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
        quantise_linears(model, quantisable_linears(model, info.head), device)
        model.is_loaded_in_4bit = True
        return model

    def merge(self, model: nn.Module) -> nn.Module:
        """A float32 copy: 4-bit weights dequantised, LoRA updates added (see module docstring)."""
        from .nf4 import merged_float_copy

        if not hasattr(model, "base_model"):
            return model
        return merged_float_copy(model)


PLUGINS = (QLoRA,)
