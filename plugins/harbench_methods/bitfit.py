"""BitFit: every bias term of the backbone trains, with the head; all weights stay frozen.

A bias is any parameter whose own name is ``bias`` or starts with ``bias_`` / ends with ``_bias``
(conv, linear and normalisation biases, GRU/LSTM ``bias_ih_l0``..., attention ``in_proj_bias``).
Its own BatchNorm policy is "frozen" (BitFit changes only additive terms), used when a run's
``bn_policy`` is "method". Nothing is merged: the model trains in its deployable form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError, ModelInfo

from ._base import Method

if TYPE_CHECKING:
    from torch import nn


def is_bias(name: str) -> bool:
    """Whether the parameter called ``name`` (dotted) is a bias term."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "bias" or leaf.startswith("bias_") or leaf.endswith("_bias")


def backbone_biases(model: nn.Module, head: str) -> list[str]:
    """Names of the bias parameters outside the head submodule ``head``."""
    from ._base import in_head

    return [n for n, _ in model.named_parameters() if is_bias(n) and not in_head(n, head)]


class BitFit(Method):
    name = "bitfit"
    description = "BitFit: train every bias term of the backbone, plus the head"
    bn_policy = "frozen"

    def adapt(self, model: nn.Module, info: ModelInfo, params: Any) -> nn.Module:
        from ._base import require_trainable, train_only

        biases = backbone_biases(model, info.head)
        if not biases:
            raise HarbenchError(
                f"method 'bitfit' found no bias term outside the head in {type(model).__name__}: "
                "it would train the head alone (use linear_probe for that)"
            )
        train_only(model, info)
        named = dict(model.named_parameters())
        for name in biases:
            named[name].requires_grad_(True)
        return require_trainable(model, self.name)


PLUGINS = (BitFit,)
