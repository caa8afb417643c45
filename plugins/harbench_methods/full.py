"""Full fine-tuning: every weight trains (the reference every method is compared with)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbench.contracts import ModelInfo

from ._base import Method

if TYPE_CHECKING:
    from torch import nn


class Full(Method):
    name = "full"
    description = "train every parameter (the reference every method is compared with)"
    bn_policy = "update"

    def adapt(self, model: nn.Module, info: ModelInfo, params: Any) -> nn.Module:
        from ._base import require_trainable

        model.requires_grad_(True)
        return require_trainable(model, self.name)


PLUGINS = (Full,)
