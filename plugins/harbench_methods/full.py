"""Full fine-tuning: every weight trains, BatchNorm statistics update."""

from __future__ import annotations

from torch import nn

from harbench.contracts import MethodPlugin

from .common import require_trainable


class Full(MethodPlugin):
    name = "full"
    description = "train every parameter (the reference every method is compared with)"
    bn_policy = "update"

    def adapt(self, model: nn.Module, **params) -> nn.Module:
        for p in model.parameters():
            p.requires_grad_(True)
        return require_trainable(model, self.name)


PLUGINS = (Full,)
