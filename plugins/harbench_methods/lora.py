"""LoRA through peft: low-rank updates on the targeted Linear/Conv layers; the head trains fully."""

from __future__ import annotations

from typing import Any

from torch import nn

from harbench.contracts import HarbenchError, MethodPlugin

from .common import (
    default_targets,
    freeze,
    head_name,
    matching_modules,
    require_trainable,
    unfreeze_modules,
)

PEFT_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)


def resolve_targets(model: nn.Module, targets: Any, method: str) -> list[str]:
    """Full module names to wrap: the suite's ``targets`` or the backbone's defaults; never the head.

    ``targets`` may be a list of name suffixes, or a family name such as "linear" or "conv"
    that the model plugin declares.
    """
    head = head_name(model)
    if targets in (None, "", "default"):
        suffixes = default_targets(model, "adapter") or (
            default_targets(model, "linear") + default_targets(model, "conv")
        )
    elif isinstance(targets, str):
        suffixes = default_targets(model, targets) or [targets]
    else:
        suffixes = list(targets)
    names = [
        n for n in matching_modules(model, suffixes, PEFT_LAYER_TYPES)
        if n != head and not n.startswith(head + ".")
    ]
    if not names:
        raise HarbenchError(
            f"method {method!r} found no Linear/Conv layer matching targets {suffixes} in "
            f"{type(model).__name__}"
        )
    return names


class LoRA(MethodPlugin):
    name = "lora"
    description = "LoRA (peft): low-rank update on targeted layers, merged for deployment"
    defaults = {"r": 8, "alpha": 16, "dropout": 0.0, "targets": "default", "rslora": False}
    bn_policy = "frozen"
    peft_type = "lora"

    def config(self, targets: list[str], params: dict[str, Any]):
        from peft import LoraConfig

        return LoraConfig(
            r=params["r"], lora_alpha=params["alpha"], lora_dropout=params["dropout"],
            target_modules=targets, use_rslora=params["rslora"], bias="none",
        )

    def adapt(self, model: nn.Module, **params: Any) -> nn.Module:
        from peft import get_peft_model

        merged = {**self.defaults, **params}
        targets = resolve_targets(model, merged.pop("targets"), self.name)
        head = head_name(model)
        freeze(model)
        peft_model = get_peft_model(model, self.config(targets, merged))
        unfreeze_modules(peft_model.base_model.model, [head])
        return require_trainable(peft_model, self.name)

    def merge(self, model: nn.Module) -> nn.Module:
        return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


PLUGINS = (LoRA,)
