"""The other peft methods, as small subclasses of the shared ``PeftMethod`` flow (see lora.py).

What each adapts:
- ``dora``: LoRA with weight decomposition (a trainable magnitude per output); LoRA's layers
  (Linear, Conv1d, Conv2d; no grouped or dilated conv).
- ``loha``, ``lokr``: Hadamard / Kronecker products of low-rank factors. Their update is a full
  kernel applied with the layer's own groups and dilation, so grouped and dilated convs adapt and
  merge correctly.
- ``ia3``, ``adalora``, ``vera``: Linear layers only; a conv target is refused with its name.

Every method with an ``alpha`` scales its update by ``alpha / r`` (AdaLoRA: ``alpha / init_r``);
``alpha`` null (the default) means ``2 * r`` (``2 * init_r``), the same scaling at every rank.

AdaLoRA's rank allocation needs a call after every optimiser step and its orthogonal regulariser
needs the loss, both left by peft to a transformers training loop. harbench's loop knows no
method, so ``adalora`` does both itself when the adapter gradients of a backward pass are
complete (see ``adalora_steps``): it adds the gradient of
``orth_reg_weight * mean ||P P^T - I||_F`` and runs peft's ``update_and_allocate`` (one step
before peft's own order, which runs it after ``optimizer.step()``); before every forward it
re-applies the current rank mask, so a step never leaves a pruned singular value non-zero. Its
schedule needs ``total_step`` (training steps): default 1000; set it to epochs x batches per
epoch of the suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError, ModelInfo
from harbench.settings import Param

from .declare import (
    LayerSupport,
    alpha_or_twice,
    alpha_param,
    dropout_param,
    rank_param,
    targets_param,
)
from .lora import LoRA, PeftMethod

if TYPE_CHECKING:
    from torch import nn

LINEAR_ONLY = LayerSupport(types=("Linear",), grouped_conv=False, dilated_conv=False)
FULL_KERNEL_UPDATE = LayerSupport()

ALPHA_DOC = "update scale numerator: alpha / r; null: 2 * r"


def _lycoris_params(**extra: Param) -> dict[str, Param]:
    """The parameters LoHa and LoKr share, then their own."""
    return {
        "r": rank_param(8),
        "alpha": alpha_param(ALPHA_DOC),
        "rank_dropout": dropout_param("dropout probability on the update's rank components"),
        "module_dropout": dropout_param("probability of skipping a whole adapter in a step"),
        "effective_conv2d": Param(False, "parametrise Conv2d updates by the effective kernel"),
        "targets": targets_param(),
        **extra,
    }


class DoRA(LoRA):
    name = "dora"
    description = "DoRA (peft): LoRA on the direction plus a trainable magnitude per output"
    version = "2"  # alpha defaults to 2 * r
    peft_constants = {**LoRA.peft_constants, "use_dora": True}


class Lycoris(PeftMethod):
    """LoHa and LoKr: a full-kernel update (any conv), scaled by alpha / r."""

    support = FULL_KERNEL_UPDATE
    peft_fields = {"r": "r", "alpha": "alpha", "rank_dropout": "rank_dropout",
                   "module_dropout": "module_dropout", "effective_conv2d": "use_effective_conv2d"}

    def derive_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return alpha_or_twice(params)


class LoHa(Lycoris):
    name = "loha"
    description = "LoHa (peft): Hadamard product of two low-rank updates; Linear and conv layers"
    version = "2"  # alpha defaults to 2 * r (was a fixed 8)
    params = _lycoris_params()
    peft_config = "LoHaConfig"


class LoKr(Lycoris):
    name = "lokr"
    description = "LoKr (peft): Kronecker product of a small and a low-rank factor; Linear and conv"
    version = "2"  # alpha defaults to 2 * r (was a fixed 8)
    params = _lycoris_params(
        decompose_both=Param(False, "decompose the small Kronecker factor too"),
        decompose_factor=Param(-1, "Kronecker factor size (-1: as square as possible)", min=-1),
    )
    peft_config = "LoKrConfig"
    peft_fields = {**Lycoris.peft_fields, "decompose_both": "decompose_both",
                   "decompose_factor": "decompose_factor"}


class IA3(PeftMethod):
    """(IA)^3: a learned vector rescales each target's output, or its input for the targets named
    by ``feedforward`` ("default": the backbone's "feedforward" family, else none)."""

    name = "ia3"
    description = "(IA)^3 (peft): learned rescaling vectors on Linear layers"
    support = LINEAR_ONLY
    needs = ("linear",)
    params = {
        "targets": targets_param(),
        "feedforward": Param(
            "default",
            "targets whose input (not output) is rescaled: 'default' (the backbone's "
            "'feedforward' family), a suffix or a list of suffixes",
            kind="names",
        ),
    }
    peft_config = "IA3Config"

    def config_fields(
        self, info: ModelInfo, targets: list[str], params: dict[str, Any]
    ) -> dict[str, Any]:
        from .common import exact_names_pattern

        return {"feedforward_modules": exact_names_pattern(self.feedforward(info, targets, params))}

    @staticmethod
    def feedforward(info: ModelInfo, targets: list[str], params: dict[str, Any]) -> list[str]:
        """The targets whose input (not output) is rescaled."""
        from .common import matches_suffix

        wanted = params["feedforward"]
        if wanted in (None, "", "default"):
            return [t for t in targets if matches_suffix(t, info.family("feedforward"))]
        suffixes = [wanted] if isinstance(wanted, str) else list(wanted)
        chosen = [t for t in targets if matches_suffix(t, suffixes)]
        if not chosen:
            raise HarbenchError(
                f"method 'ia3' parameter 'feedforward' {suffixes} names none of its targets "
                f"{targets}"
            )
        return chosen


class VeRA(PeftMethod):
    name = "vera"
    description = "VeRA (peft): frozen shared random projections, trainable scaling vectors"
    support = LINEAR_ONLY
    needs = ("linear",)
    rank_key = None  # shared random projections: r may exceed a layer's sides
    params = {
        "r": rank_param(64, "rank of the shared random projections"),
        "d_initial": Param(0.1, "initial value of the trainable vector d", min=0),
        "dropout": dropout_param(),
        "prng_key": Param(0, "seed of the shared random projections", min=0),
        "targets": targets_param(),
    }
    peft_config = "VeraConfig"
    peft_fields = {"r": "r", "d_initial": "d_initial", "dropout": "vera_dropout",
                   "prng_key": "projection_prng_key"}
    peft_constants = {"save_projection": True}


class AdaLoRA(PeftMethod):
    name = "adalora"
    description = "AdaLoRA (peft): SVD-form LoRA whose rank budget is pruned by importance"
    version = "2"  # alpha defaults to 2 * init_r (was a fixed 32)
    support = LINEAR_ONLY
    needs = ("linear",)
    rank_key = "init_r"
    params = {
        "init_r": rank_param(12, "rank every target starts with"),
        "target_r": rank_param(8, "average rank left per target after budgeting"),
        "alpha": alpha_param("update scale numerator: alpha / init_r; null: 2 * init_r"),
        "dropout": dropout_param(),
        "total_step": Param(1000, "training steps (epochs x batches per epoch)", min=1),
        "tinit": Param(0, "warm-up steps before budgeting starts", min=0),
        "tfinal": Param(0, "final steps at the target budget", min=0),
        "delta_t": Param(1, "steps between two budget allocations", min=1),
        "beta1": Param(0.85, "EMA factor of the importance sensitivity", min=0, max=1),
        "beta2": Param(0.85, "EMA factor of the importance uncertainty", min=0, max=1),
        "orth_reg_weight": Param(0.5, "weight of the orthogonality regulariser", min=0),
        "targets": targets_param(),
    }
    peft_config = "AdaLoraConfig"
    peft_fields = {
        "init_r": "init_r", "target_r": "target_r", "alpha": "lora_alpha",
        "dropout": "lora_dropout", "total_step": "total_step", "tinit": "tinit",
        "tfinal": "tfinal", "delta_t": "deltaT", "beta1": "beta1", "beta2": "beta2",
        "orth_reg_weight": "orth_reg_weight",
    }

    def derive_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return alpha_or_twice(params, "init_r")

    def config_fields(
        self, info: ModelInfo, targets: list[str], params: dict[str, Any]
    ) -> dict[str, Any]:
        if params["tinit"] + params["tfinal"] >= params["total_step"]:
            raise HarbenchError(
                f"method 'adalora': tinit ({params['tinit']}) + tfinal ({params['tfinal']}) must "
                f"be below total_step ({params['total_step']}) to leave a budgeting phase"
            )
        return super().config_fields(info, targets, params)

    def attach(self, peft_model: nn.Module, params: dict[str, Any]) -> None:
        from .adalora_steps import AdaLoraSteps

        peft_model.harbench_adalora = AdaLoraSteps(peft_model, params["orth_reg_weight"])

    def merge(self, model: nn.Module) -> nn.Module:
        from .adalora_steps import AdaLoraSteps

        AdaLoraSteps.apply_mask(model)
        return super().merge(model)

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """Full-rank factors with the pruned singular values zeroed (so a freshly adapted model,
        whose rank pattern is unset, loads them without resizing)."""
        from .adalora_steps import AdaLoraSteps

        AdaLoraSteps.apply_mask(model)
        config = model.peft_config[model.active_adapter]
        pattern, config.rank_pattern = config.rank_pattern, None
        try:
            return super().adapter_state(model)
        finally:
            config.rank_pattern = pattern


PLUGINS = (DoRA, LoHa, LoKr, IA3, VeRA, AdaLoRA)
