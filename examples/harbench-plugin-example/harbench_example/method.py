"""Train only the last ``n`` layers that have parameters (the classifier head is the last)."""

from __future__ import annotations

from torch import nn

from harbench.contracts import HarbenchError, MethodPlugin


class LastN(MethodPlugin):
    name = "last_n"
    description = "freeze everything but the last n parameterised layers"
    defaults = {"n": 2}
    bn_policy = "frozen"

    def adapt(self, model: nn.Module, **params) -> nn.Module:
        n = params["n"]
        if n < 1:
            raise HarbenchError(f"last_n needs n >= 1, got {n}")
        layers = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in layers[-n:]:
            for p in layer.parameters(recurse=False):
                p.requires_grad_(True)
        return model
