"""The flow every peft-implemented method shares (lora, dora, loha, lokr, ia3, vera, adalora,
qlora): not a plugin (the leading underscore keeps it out of discovery), no torch at import.

``PeftMethod`` is the one flow: resolve the targets (never the head; refuse layers the method
cannot adapt correctly), freeze the backbone, let peft wrap exactly those modules, train the head
fully. ``merge`` folds the update into a deep copy (the adapted model stays usable), and the
adapter state is peft's own (``get_peft_model_state_dict``) plus the head. A subclass names its
typed parameter record (``params``), the peft config class and which record fields map to which
peft config fields.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from harbench.contracts import HarbenchError, ModelInfo, model_info
from harbench.settings import PluginParams

from ._base import LINEAR_AND_CONV, LayerSupport, Method

if TYPE_CHECKING:
    from torch import nn

__all__ = ["LORA_SUPPORT", "PeftMethod", "adapter_layer_names", "twice_rank"]

# peft's LoRA conv branch is conv(in -> r, kernel, stride, padding) then conv(r -> out, 1): it
# drops the layer's dilation, and cannot merge a grouped conv. Such layers are refused.
LORA_SUPPORT = LayerSupport(grouped_conv=False, dilated_conv=False)

PEFT_STATE = "peft."  # adapter_state keys: peft's adapter weights ...
MODEL_STATE = "model."  # ... and the head (plain parameters and buffers of the backbone)



def twice_rank(record: PluginParams, rank_field: str = "r") -> PluginParams:
    """``record`` with ``alpha`` None resolved to ``2 * rank`` (a constant scaling alpha / r = 2
    across a rank sweep)."""
    if record.alpha is None:
        return dataclasses.replace(record, alpha=2 * getattr(record, rank_field))
    return record


def adapter_layer_names(peft_model: nn.Module) -> list[str]:
    """Names (relative to the backbone) of the layers peft wrapped."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    base = peft_model.base_model.model
    return [n for n, m in base.named_modules() if isinstance(m, BaseTunerLayer)]


def _largest_side(module: Any) -> int | None:
    """max(inputs, outputs) of a Linear's or a convolution's weight matrix (in x kernel/groups)."""
    weight = getattr(module, "weight", None)
    if weight is None or getattr(weight, "dim", lambda: 0)() < 2:
        return None
    return max(int(weight.shape[0]), int(weight[0].numel()))


class PeftMethod(Method):
    """A method peft implements: subclasses give the layer support and the peft config."""

    support: ClassVar[LayerSupport] = LORA_SUPPORT
    needs = LINEAR_AND_CONV
    bn_policy = "frozen"

    peft_config: ClassVar[str]  # name of the peft config class, e.g. "LoraConfig"
    # harbench parameter -> peft config field, and constant config fields
    peft_fields: ClassVar[dict[str, str]] = {}
    peft_constants: ClassVar[dict[str, Any]] = {}

    def config_fields(self, info: ModelInfo, targets: list[str], params: Any) -> dict[str, Any]:
        """The peft config's fields other than ``target_modules`` (override to add or check)."""
        fields = {peft: getattr(params, ours) for ours, peft in self.peft_fields.items()}
        return {**fields, **self.peft_constants}

    def config(self, info: ModelInfo, targets: list[str], params: Any):
        """The peft config wrapping exactly ``targets``."""
        import peft

        from ._targets import exact_names_pattern

        config_class = getattr(peft, self.peft_config)
        fields = self.config_fields(info, targets, params)
        return config_class(target_modules=exact_names_pattern(targets), **fields)

    def prepare(
        self, model: nn.Module, info: ModelInfo, targets: list[str], params: Any
    ) -> nn.Module:
        """Change the frozen backbone before peft wraps it (QLoRA quantises here)."""
        return model

    rank_key: ClassVar[str | None] = "r"  # the parameter bounded by the adapted layers' sizes

    def check_backbone(self, model: nn.Module, params: dict[str, Any]) -> str | None:
        """Why ``params`` cannot adapt ``model`` (checked at validate), or None. The rule: the rank
        must not exceed the largest side of the adapted weights (m or n of an m x n weight; a
        convolution's n is in_channels x kernel / groups). Above it, every adapter factor is
        larger than the weight it adapts and adds parameters without adding rank. A rank above
        min(m, n) of small layers stays allowed, so one rank sweep fits several backbones."""
        from ._targets import resolve_targets

        rank = params.get(self.rank_key) if self.rank_key else None
        if not isinstance(rank, int):
            return None
        info = model_info(model)
        modules = dict(model.named_modules())
        sides = {name: _largest_side(modules[name])
                 for name in resolve_targets(model, info, params["targets"], self.name,
                                             self.support)}
        sides = {k: v for k, v in sides.items() if v}
        if not sides:
            return None
        layer = max(sides, key=sides.get)
        if rank <= sides[layer]:
            return None
        return (f"{self.rank_key}={rank} exceeds every side of every layer it adapts in backbone "
                f"{info.name!r} (the largest is {sides[layer]}, in {layer!r}); choose "
                f"{self.rank_key} <= {sides[layer]}")

    def attach(self, peft_model: nn.Module, params: Any) -> None:
        """Install what the method needs during training (AdaLoRA's rank allocation)."""

    def adapt(self, model: nn.Module, info: ModelInfo, params: Any) -> nn.Module:
        from peft import get_peft_model
        from peft.tuners.tuners_utils import BaseTunerLayer

        from ._base import freeze, require_trainable, unfreeze_modules
        from ._targets import resolve_targets

        if any(isinstance(m, BaseTunerLayer) for m in model.modules()):
            raise HarbenchError(f"method {self.name!r}: the model already carries peft adapters")
        targets = resolve_targets(model, info, params.targets, self.name, self.support)
        freeze(model)
        model = self.prepare(model, info, targets, params)
        peft_model = get_peft_model(model, self.config(info, targets, params))
        wrapped = adapter_layer_names(peft_model)
        if sorted(wrapped) != sorted(targets):
            raise HarbenchError(
                f"method {self.name!r}: peft wrapped {sorted(wrapped)} instead of the resolved "
                f"targets {sorted(targets)}"
            )
        unfreeze_modules(peft_model.base_model.model, [info.head])
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
        """peft's adapter weights (``peft.`` keys), the head's state and, when the run updates
        them, the BatchNorm running statistics (``model.`` keys)."""
        from peft import get_peft_model_state_dict

        adapter = get_peft_model_state_dict(model)
        state = {PEFT_STATE + k: v.detach().clone() for k, v in adapter.items()}
        from ._base import running_statistics

        base = model.base_model.model
        head = model_info(model).head
        for key, value in base.state_dict().items():
            if key.startswith(head + "."):
                state[MODEL_STATE + key] = value.detach().clone()
        for key, value in running_statistics(base, owner=model).items():
            state[MODEL_STATE + key] = value
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
