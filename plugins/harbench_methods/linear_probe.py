"""Linear probing: only the classifier head trains; the backbone and its BatchNorm stay frozen."""

from __future__ import annotations

from torch import nn

from harbench.contracts import MethodPlugin

from .common import freeze, head_name, require_trainable, unfreeze_modules


class LinearProbe(MethodPlugin):
    name = "linear_probe"
    description = "train the classifier head only"
    bn_policy = "frozen"

    def adapt(self, model: nn.Module, **params) -> nn.Module:
        freeze(model)
        unfreeze_modules(model, [head_name(model)])
        return require_trainable(model, self.name)


PLUGINS = (LinearProbe,)
