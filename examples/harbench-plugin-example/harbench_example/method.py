"""Train only the last ``n`` layers that have parameters (the classifier head is the last)."""

from __future__ import annotations

from harbench.contracts import MethodPlugin, ModelInfo
from harbench.settings import Param, defaults_of


class LastN(MethodPlugin):
    name = "last_n"
    description = "freeze everything but the last n parameterised layers"
    params = {"n": Param(2, "how many of the last parameterised layers train", min=1)}
    defaults = defaults_of(params)
    needs = ()  # any backbone: it adapts whatever layers come last
    bn_policy = "frozen"

    def adapt(self, model, info: ModelInfo, **params):
        """``info`` (the backbone's head and target families) is unused: position decides."""
        layers = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in layers[-params["n"]:]:
            for p in layer.parameters(recurse=False):
                p.requires_grad_(True)
        return model
