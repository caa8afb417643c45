"""The other peft methods, as small subclasses of the shared ``PeftMethod`` flow (see lora.py).

What each adapts:
- ``dora``: LoRA with weight decomposition (a trainable magnitude per output); LoRA's layers
  (Linear, Conv1d, Conv2d; no grouped or dilated conv).
- ``loha``, ``lokr``: Hadamard / Kronecker products of low-rank factors. Their update is a full
  kernel applied with the layer's own groups and dilation, so grouped and dilated convs adapt and
  merge correctly.
- ``ia3``, ``adalora``, ``vera``: Linear layers only; a conv target is refused with its name.

AdaLoRA's rank allocation needs a call after every optimiser step and its orthogonal regulariser
needs the loss, both left by peft to a transformers training loop. harbench's loop knows no
method, so ``adalora`` does both itself when the adapter gradients of a backward pass are
complete: it adds the gradient of ``orth_reg_weight * mean ||P P^T - I||_F`` and runs peft's
``update_and_allocate`` (one step before peft's own order, which runs it after
``optimizer.step()``); before every forward it re-applies the current rank mask, so a step
never leaves a pruned singular value non-zero. Its schedule needs ``total_step`` (training
steps): default 1000; set it to epochs x batches per epoch of the suite.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harbench.contracts import HarbenchError

from .common import LayerSupport, default_targets, exact_names_pattern, require_positive
from .lora import LoRA, PeftMethod

LINEAR_ONLY = LayerSupport(types=(nn.Linear,), grouped_conv=False, dilated_conv=False)
FULL_KERNEL_UPDATE = LayerSupport(types=(nn.Linear, nn.Conv1d, nn.Conv2d))


class DoRA(LoRA):
    name = "dora"
    description = "DoRA (peft): LoRA on the direction plus a trainable magnitude per output"

    def lora_options(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"use_dora": True}


class LoHa(PeftMethod):
    name = "loha"
    description = "LoHa (peft): Hadamard product of two low-rank updates; Linear and conv layers"
    support = FULL_KERNEL_UPDATE
    defaults = {
        "r": 8,
        "alpha": 8,
        "rank_dropout": 0.0,
        "module_dropout": 0.0,
        "effective_conv2d": False,
        "targets": "default",
    }

    def config(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        from peft import LoHaConfig

        require_positive(self.name, params, "r")
        return LoHaConfig(
            r=params["r"],
            alpha=params["alpha"],
            rank_dropout=params["rank_dropout"],
            module_dropout=params["module_dropout"],
            use_effective_conv2d=params["effective_conv2d"],
            target_modules=exact_names_pattern(targets),
        )


class LoKr(PeftMethod):
    name = "lokr"
    description = "LoKr (peft): Kronecker product of a small and a low-rank factor; Linear and conv"
    support = FULL_KERNEL_UPDATE
    defaults = {
        "r": 8,
        "alpha": 8,
        "rank_dropout": 0.0,
        "module_dropout": 0.0,
        "decompose_both": False,
        "decompose_factor": -1,
        "effective_conv2d": False,
        "targets": "default",
    }

    def config(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        from peft import LoKrConfig

        require_positive(self.name, params, "r")
        return LoKrConfig(
            r=params["r"],
            alpha=params["alpha"],
            rank_dropout=params["rank_dropout"],
            module_dropout=params["module_dropout"],
            decompose_both=params["decompose_both"],
            decompose_factor=params["decompose_factor"],
            use_effective_conv2d=params["effective_conv2d"],
            target_modules=exact_names_pattern(targets),
        )


class IA3(PeftMethod):
    """(IA)^3: a learned vector rescales each target's output, or its input for the targets named
    by ``feedforward`` ("default": the backbone's "feedforward" family, else none)."""

    name = "ia3"
    description = "(IA)^3 (peft): learned rescaling vectors on Linear layers"
    support = LINEAR_ONLY
    defaults = {"targets": "default", "feedforward": "default"}

    def config(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        from peft import IA3Config

        return IA3Config(
            target_modules=exact_names_pattern(targets),
            feedforward_modules=exact_names_pattern(self.feedforward(model, targets, params)),
        )

    def feedforward(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        """The targets whose input (not output) is rescaled."""
        wanted = params["feedforward"]
        if wanted in (None, "", "default"):
            return [t for t in targets if _matches(t, default_targets(model, "feedforward"))]
        suffixes = [wanted] if isinstance(wanted, str) else list(wanted)
        chosen = [t for t in targets if _matches(t, suffixes)]
        if not chosen:
            raise HarbenchError(
                f"method 'ia3' parameter 'feedforward' {suffixes} names none of its targets "
                f"{targets}"
            )
        return chosen


def _matches(name: str, suffixes: list[str]) -> bool:
    return any(name == s or name.endswith("." + s) for s in suffixes)


class VeRA(PeftMethod):
    name = "vera"
    description = "VeRA (peft): frozen shared random projections, trainable scaling vectors"
    support = LINEAR_ONLY
    defaults = {"r": 64, "d_initial": 0.1, "dropout": 0.0, "prng_key": 0, "targets": "default"}

    def config(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        from peft import VeraConfig

        require_positive(self.name, params, "r")
        return VeraConfig(
            r=params["r"],
            d_initial=params["d_initial"],
            vera_dropout=params["dropout"],
            projection_prng_key=params["prng_key"],
            save_projection=True,
            target_modules=exact_names_pattern(targets),
        )


class AdaLoRA(PeftMethod):
    name = "adalora"
    description = "AdaLoRA (peft): SVD-form LoRA whose rank budget is pruned by importance"
    support = LINEAR_ONLY
    defaults = {
        "init_r": 12,
        "target_r": 8,
        "alpha": 32,
        "dropout": 0.0,
        "total_step": 1000,
        "tinit": 0,
        "tfinal": 0,
        "delta_t": 1,
        "beta1": 0.85,
        "beta2": 0.85,
        "orth_reg_weight": 0.5,
        "targets": "default",
    }

    def config(self, model: nn.Module, targets: list[str], params: dict[str, Any]):
        from peft import AdaLoraConfig

        require_positive(self.name, params, "init_r", "target_r", "total_step", "delta_t")
        if params["tinit"] + params["tfinal"] >= params["total_step"]:
            raise HarbenchError(
                f"method 'adalora': tinit ({params['tinit']}) + tfinal ({params['tfinal']}) must "
                f"be below total_step ({params['total_step']}) to leave a budgeting phase"
            )
        return AdaLoraConfig(
            init_r=params["init_r"],
            target_r=params["target_r"],
            lora_alpha=params["alpha"],
            lora_dropout=params["dropout"],
            total_step=params["total_step"],
            tinit=params["tinit"],
            tfinal=params["tfinal"],
            deltaT=params["delta_t"],
            beta1=params["beta1"],
            beta2=params["beta2"],
            orth_reg_weight=params["orth_reg_weight"],
            target_modules=exact_names_pattern(targets),
        )

    def attach(self, peft_model: nn.Module, params: dict[str, Any]) -> None:
        peft_model.harbench_adalora = AdaLoraSteps(peft_model, params["orth_reg_weight"])

    def merge(self, model: nn.Module) -> nn.Module:
        AdaLoraSteps.apply_mask(model)
        return super().merge(model)

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """Full-rank factors with the pruned singular values zeroed (so a freshly adapted model,
        whose rank pattern is unset, loads them without resizing)."""
        AdaLoraSteps.apply_mask(model)
        config = model.peft_config[model.active_adapter]
        pattern, config.rank_pattern = config.rank_pattern, None
        try:
            return super().adapter_state(model)
        finally:
            config.rank_pattern = pattern


class AdaLoraSteps:
    """AdaLoRA's per-step work, run from autograd hooks (see the module docstring)."""

    def __init__(self, peft_model: nn.Module, orth_reg_weight: float):
        self.model = peft_model
        self.orth_reg_weight = orth_reg_weight
        self.step = 0
        self.factors = {
            n: p
            for n, p in peft_model.named_parameters()
            if p.requires_grad and (".lora_A." in n or ".lora_B." in n)
        }
        self.params = [
            p
            for n, p in peft_model.named_parameters()
            if p.requires_grad and any(f".{k}." in n for k in ("lora_A", "lora_B", "lora_E"))
        ]
        self.pending: set[int] = set()
        for p in self.params:
            p.register_post_accumulate_grad_hook(self._accumulated)
        peft_model.register_forward_pre_hook(lambda module, args: self.apply_mask(module))

    def _accumulated(self, param: torch.Tensor) -> None:
        self.pending.add(id(param))
        if len(self.pending) == len(self.params):
            self.pending.clear()
            self.after_backward()

    @torch.no_grad()
    def add_orthogonality_gradient(self) -> None:
        """d/dP of ``w * mean_P ||C - I||_F`` with C = P P^T for lora_A, P^T P for lora_B."""
        if not self.orth_reg_weight or not self.factors:
            return
        scale = self.orth_reg_weight / len(self.factors)
        for name, p in self.factors.items():
            a_side = ".lora_A." in name
            cov = p @ p.T if a_side else p.T @ p
            diff = cov - torch.eye(cov.shape[0], dtype=p.dtype, device=p.device)
            norm = torch.linalg.matrix_norm(diff)
            if norm == 0 or p.grad is None:
                continue
            grad = (2 * diff @ p) if a_side else (2 * p @ diff)
            p.grad.add_(grad, alpha=float(scale / norm))

    def after_backward(self) -> None:
        self.add_orthogonality_gradient()
        self.model.base_model.update_and_allocate(self.step)
        self.step += 1

    @staticmethod
    def apply_mask(model: nn.Module) -> None:
        """Zero the singular values the current rank pattern prunes (nothing before one is set)."""
        tuner = model.base_model
        pattern = tuner.peft_config[tuner.trainable_adapter_name].rank_pattern
        if pattern:
            tuner.rankallocator.mask_using_rank_pattern(tuner.model, pattern)


PLUGINS = (DoRA, LoHa, LoKr, IA3, VeRA, AdaLoRA)
