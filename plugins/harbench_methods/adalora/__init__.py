"""AdaLoRA through peft: SVD-form LoRA whose rank budget is pruned by importance during training.

Linear layers only: a conv target is refused with its name. The update is scaled by
``alpha / init_r``; ``alpha`` null (the default) means ``2 * init_r``.

The rank allocation needs a call after every optimiser step and the orthogonal regulariser needs
the loss, both left by peft to a transformers training loop. harbench's loop knows no method, so
``adalora`` does both itself when the adapter gradients of a backward pass are complete (see
``steps.py`` beside this file): it adds the gradient of ``orth_reg_weight * mean ||P P^T - I||_F``
and runs peft's ``update_and_allocate`` (one step before peft's own order, which runs it after
``optimizer.step()``); before every forward it re-applies the current rank mask, so a step never
leaves a pruned singular value non-zero. Its schedule needs ``total_step`` (training steps):
default 1000; set it to epochs x batches per epoch of the suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError, ModelInfo
from harbench.settings import PluginParams, setting

from .._base import LINEAR_ONLY, alpha_field, dropout_field, rank_field, targets_field
from .._peft import PeftMethod, twice_rank

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class AdaLoRAParams(PluginParams):
    """AdaLoRA's parameters."""

    init_r: int = rank_field(12, "rank every target starts with")
    target_r: int = rank_field(8, "average rank left per target after budgeting")
    alpha: Any = alpha_field("update scale numerator: alpha / init_r; null: 2 * init_r")
    dropout: float = dropout_field()
    total_step: int = setting(1000, "training steps (epochs x batches per epoch)", min=1)
    tinit: int = setting(0, "warm-up steps before budgeting starts", min=0)
    tfinal: int = setting(0, "final steps at the target budget", min=0)
    delta_t: int = setting(1, "steps between two budget allocations", min=1)
    beta1: float = setting(0.85, "EMA factor of the importance sensitivity", min=0, max=1)
    beta2: float = setting(0.85, "EMA factor of the importance uncertainty", min=0, max=1)
    orth_reg_weight: float = setting(0.5, "weight of the orthogonality regulariser", min=0)
    targets: Any = targets_field()

    def derived(self) -> AdaLoRAParams:
        return twice_rank(self, "init_r")


class AdaLoRA(PeftMethod):
    name = "adalora"
    description = "AdaLoRA (peft): SVD-form LoRA whose rank budget is pruned by importance"
    version = "2"  # alpha defaults to 2 * init_r (was a fixed 32)
    support = LINEAR_ONLY
    needs = ("linear",)
    rank_key = "init_r"
    params = AdaLoRAParams
    peft_config = "AdaLoraConfig"
    peft_fields = {
        "init_r": "init_r", "target_r": "target_r", "alpha": "lora_alpha",
        "dropout": "lora_dropout", "total_step": "total_step", "tinit": "tinit",
        "tfinal": "tfinal", "delta_t": "deltaT", "beta1": "beta1", "beta2": "beta2",
        "orth_reg_weight": "orth_reg_weight",
    }

    def config_fields(self, info: ModelInfo, targets: list[str], params: Any) -> dict[str, Any]:
        if params.tinit + params.tfinal >= params.total_step:
            raise HarbenchError(
                f"method 'adalora': tinit ({params.tinit}) + tfinal ({params.tfinal}) must "
                f"be below total_step ({params.total_step}) to leave a budgeting phase"
            )
        return super().config_fields(info, targets, params)

    def attach(self, peft_model: nn.Module, params: Any) -> None:
        from .steps import AdaLoraSteps

        peft_model.harbench_adalora = AdaLoraSteps(peft_model, params.orth_reg_weight)

    def merge(self, model: nn.Module) -> nn.Module:
        from .steps import AdaLoraSteps

        AdaLoraSteps.apply_mask(model)
        return super().merge(model)

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """Full-rank factors with the pruned singular values zeroed (so a freshly adapted model,
        whose rank pattern is unset, loads them without resizing)."""
        from .steps import AdaLoraSteps

        AdaLoraSteps.apply_mask(model)
        config = model.peft_config[model.active_adapter]
        pattern, config.rank_pattern = config.rank_pattern, None
        try:
            return super().adapter_state(model)
        finally:
            config.rank_pattern = pattern


PLUGINS = (AdaLoRA,)
