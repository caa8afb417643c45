"""Norm tuning: the affine parameters of every normalisation layer train, with the head.

Normalisation layers are BatchNorm (1d/2d/3d), LayerNorm, GroupNorm, InstanceNorm and RMSNorm
with affine parameters (weight and bias). Its own BatchNorm policy is "update": running
statistics follow the new data during training, as in AdaBN (Li et al., 2016), because
re-estimating the statistics is the cheapest adaptation to a new person or device and the
statistics belong to the layers this method adapts. The adapter state therefore always carries
the statistics of the normalisation layers along with the trained parameters. Nothing is merged:
the model trains in its deployable form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError, ModelInfo, model_info

from ._base import Method

if TYPE_CHECKING:
    from torch import nn


def norm_layers(model: nn.Module, head: str) -> list[str]:
    """Names of the normalisation layers outside the head that have trainable affine params."""
    from torch import nn

    from ._base import in_head

    types = (
        nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
        nn.LayerNorm,
        nn.GroupNorm,
        nn.RMSNorm,
    )
    return [
        name
        for name, module in model.named_modules()
        if name
        and isinstance(module, types)
        and not in_head(name, head)
        and any(True for _ in module.parameters(recurse=False))
    ]


class Norm(Method):
    name = "norm"
    description = "train the affine parameters of normalisation layers (BN statistics update)"
    bn_policy = "update"

    def adapt(self, model: nn.Module, info: ModelInfo, params: Any) -> nn.Module:
        from ._base import require_trainable, train_only

        layers = norm_layers(model, info.head)
        if not layers:
            raise HarbenchError(
                f"method 'norm' found no normalisation layer with affine parameters in "
                f"{type(model).__name__} (BatchNorm/LayerNorm/GroupNorm/InstanceNorm/RMSNorm)"
            )
        return require_trainable(train_only(model, info, layers), self.name)

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """Trained parameters and the running statistics of the normalisation layers."""
        state = super().adapter_state(model)
        modules = dict(model.named_modules())
        for name in norm_layers(model, model_info(model).head):
            for key, buf in modules[name].named_buffers(recurse=False):
                state[f"{name}.{key}"] = buf.detach().clone()
        return state


PLUGINS = (Norm,)
