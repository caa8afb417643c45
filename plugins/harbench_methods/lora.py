"""LoRA through peft, and the base every peft-implemented method shares.

``PeftMethod`` is the one flow: resolve the targets (never the head; refuse layers the method
cannot adapt correctly), freeze the backbone, let peft wrap exactly those modules, train the head
fully. ``merge`` folds the update into a deep copy (the adapted model stays usable), and the
adapter state is peft's own (``get_peft_model_state_dict``) plus the head.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from typing import Any, ClassVar

from torch import nn

from harbench.contracts import HarbenchError, MethodPlugin

from .common import (
    LayerSupport,
    exact_names_pattern,
    freeze,
    head_name,
    require_positive,
    require_trainable,
    resolve_targets,
    unfreeze_modules,
)

__all__ = ["LORA_SUPPORT", "LoRA", "PeftMethod", "adapter_layer_names", "resolve_targets"]

PEFT_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)

# peft's LoRA conv branch is conv(in -> r, kernel, stride, padding) then conv(r -> out, 1): it
# drops the layer's dilation, and cannot merge a grouped conv. Such layers are refused.
LORA_SUPPORT = LayerSupport(types=PEFT_LAYER_TYPES, grouped_conv=False, dilated_conv=False)

PEFT_STATE = "peft."  # adapter_state keys: peft's adapter weights ...
MODEL_STATE = "model."  # ... and the head (plain parameters and buffers of the backbone)


def adapter_layer_names(peft_model: nn.Module) -> list[str]:
    """Names (relative to the backbone) of the layers peft wrapped."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    base = peft_model.base_model.model
    return [n for n, m in base.named_modules() if isinstance(m, BaseTunerLayer)]


class PeftMethod(MethodPlugin):
    """A method peft implements: subclasses give the layer support and the peft config."""

    support: ClassVar[LayerSupport] = LORA_SUPPORT
    bn_policy = "frozen"

    @abstractmethod
    def config(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        """The peft config wrapping exactly ``targets`` (use ``exact_names_pattern``)."""

    def prepare(self, model: nn.Module, targets: list[str], params: dict[str, Any]) -> nn.Module:
        """Change the frozen backbone before peft wraps it (QLoRA quantises here)."""
        return model

    def attach(self, peft_model: nn.Module, params: dict[str, Any]) -> None:
        """Install what the method needs during training (AdaLoRA's rank allocation)."""

    def adapt(self, model: nn.Module, **params: Any) -> nn.Module:
        from peft import get_peft_model
        from peft.tuners.tuners_utils import BaseTunerLayer

        params = {**self.defaults, **params}
        if any(isinstance(m, BaseTunerLayer) for m in model.modules()):
            raise HarbenchError(f"method {self.name!r}: the model already carries peft adapters")
        head = head_name(model)
        targets = resolve_targets(model, params.pop("targets"), self.name, self.support)
        freeze(model)
        model = self.prepare(model, targets, params)
        peft_model = get_peft_model(model, self.config(model, targets, params))
        wrapped = adapter_layer_names(peft_model)
        if sorted(wrapped) != sorted(targets):
            raise HarbenchError(
                f"method {self.name!r}: peft wrapped {sorted(wrapped)} instead of the resolved "
                f"targets {sorted(targets)}"
            )
        unfreeze_modules(peft_model.base_model.model, [head])
        self.attach(peft_model, params)
        return require_trainable(peft_model, self.name)

    def merge(self, model: nn.Module) -> nn.Module:
        """A plain backbone with the update folded into its weights; ``model`` is left as it was."""
        if not hasattr(model, "merge_and_unload"):
            return model
        merged = copy.deepcopy(model).merge_and_unload()
        merged.eval()
        return merged

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """peft's adapter weights (``peft.`` keys) and the head's state (``model.`` keys)."""
        from peft import get_peft_model_state_dict

        adapter = get_peft_model_state_dict(model)
        state = {PEFT_STATE + k: v.detach().clone() for k, v in adapter.items()}
        base = model.base_model.model
        head = head_name(base)
        for key, value in base.state_dict().items():
            if key.startswith(head + "."):
                state[MODEL_STATE + key] = value.detach().clone()
        return state

    def load_adapter_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        from peft import set_peft_model_state_dict

        unknown = [k for k in state if not k.startswith((PEFT_STATE, MODEL_STATE))]
        if unknown:
            raise HarbenchError(f"adapter state of {self.name!r} has unknown keys: {unknown[:5]}")
        peft_part = {k[len(PEFT_STATE) :]: v for k, v in state.items() if k.startswith(PEFT_STATE)}
        plain = {k[len(MODEL_STATE) :]: v for k, v in state.items() if k.startswith(MODEL_STATE)}
        result = set_peft_model_state_dict(model, peft_part)
        if result.unexpected_keys:
            raise HarbenchError(
                f"adapter state of {self.name!r} names adapter weights the model lacks: "
                f"{sorted(result.unexpected_keys)[:5]}"
            )
        base = model.base_model.model
        missing = set(plain) - set(base.state_dict())
        if missing:
            raise HarbenchError(f"adapter state names unknown head entries: {sorted(missing)[:5]}")
        base.load_state_dict(plain, strict=False)


class LoRA(PeftMethod):
    name = "lora"
    description = "LoRA (peft): low-rank update on targeted layers, merged for deployment"
    defaults = {"r": 8, "alpha": 16, "dropout": 0.0, "targets": "default", "rslora": False}

    def lora_options(self, params: dict[str, Any]) -> dict[str, Any]:
        """Extra LoraConfig fields of a LoRA variant (DoRA sets use_dora)."""
        return {}

    def config(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        from peft import LoraConfig

        require_positive(self.name, params, "r")
        return LoraConfig(
            r=params["r"],
            lora_alpha=params["alpha"],
            lora_dropout=params["dropout"],
            target_modules=exact_names_pattern(targets),
            use_rslora=params["rslora"],
            bias="none",
            **self.lora_options(params),
        )


PLUGINS = (LoRA,)
