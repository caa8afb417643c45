"""Norm tuning: the affine parameters of every normalisation layer train, with the head.

Normalisation layers are BatchNorm (1d/2d/3d), LayerNorm, GroupNorm, InstanceNorm and RMSNorm
with affine parameters (weight and bias). ``bn_policy`` is "update": BatchNorm running statistics
follow the new data during training, as in AdaBN (Li et al., 2016), because re-estimating the
statistics is the cheapest adaptation to a new person or device and the statistics belong to
the layers this method adapts. The adapter state therefore carries the BatchNorm statistics
along with the trained parameters. Nothing is merged: the model trains in its deployable form.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from harbench.contracts import HarbenchError, MethodPlugin

from .common import freeze, head_name, in_head, require_trainable, unfreeze_modules

NORM_TYPES: tuple[type, ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
)


def norm_layers(model: nn.Module) -> list[str]:
    """Names of the normalisation layers outside the head that have trainable affine params."""
    head = head_name(model)
    return [
        name
        for name, module in model.named_modules()
        if name
        and isinstance(module, NORM_TYPES)
        and not in_head(name, head)
        and any(True for _ in module.parameters(recurse=False))
    ]


class Norm(MethodPlugin):
    name = "norm"
    description = "train the affine parameters of normalisation layers (BN statistics update)"
    bn_policy = "update"

    def adapt(self, model: nn.Module, **params) -> nn.Module:
        layers = norm_layers(model)
        if not layers:
            raise HarbenchError(
                f"method 'norm' found no normalisation layer with affine parameters in "
                f"{type(model).__name__} (BatchNorm/LayerNorm/GroupNorm/InstanceNorm/RMSNorm)"
            )
        freeze(model)
        unfreeze_modules(model, [*layers, head_name(model)])
        return require_trainable(model, self.name)

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """Trained parameters and the running statistics of the normalisation layers."""
        state = super().adapter_state(model)
        modules = dict(model.named_modules())
        for name in norm_layers(model):
            for key, buf in modules[name].named_buffers(recurse=False):
                state[f"{name}.{key}"] = buf.detach().clone()
        return state

    def load_adapter_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        known = set(model.state_dict())
        unknown = set(state) - known
        if unknown:
            raise HarbenchError(
                f"adapter state of 'norm' names unknown entries: {sorted(unknown)[:5]}"
            )
        model.load_state_dict(state, strict=False)


PLUGINS = (Norm,)
