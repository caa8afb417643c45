"""Linear probing: only the classifier head trains; the backbone's weights stay frozen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbench.contracts import ModelInfo

from ._base import Method

if TYPE_CHECKING:
    from torch import nn


class LinearProbe(Method):
    name = "linear_probe"
    description = "train the classifier head only"
    bn_policy = "frozen"

    def adapt(self, model: nn.Module, info: ModelInfo, params: Any) -> nn.Module:
        from ._base import require_trainable, train_only

        return require_trainable(train_only(model, info), self.name)


PLUGINS = (LinearProbe,)
