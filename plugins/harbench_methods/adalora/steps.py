"""AdaLoRA's per-step work (orthogonal regulariser, rank allocation) run from autograd hooks.

harbench's training loop knows no method, so ``adalora`` installs this on the peft model: when
the adapter gradients of a backward pass are complete it adds the gradient of
``orth_reg_weight * mean ||P P^T - I||_F`` and runs peft's ``update_and_allocate``; before every
forward it re-applies the current rank mask.
"""

from __future__ import annotations

import torch
from torch import nn


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

