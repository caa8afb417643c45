"""BitFit: every bias term of the backbone trains, with the head; all weights stay frozen.

A bias is any parameter whose own name is ``bias`` or starts with ``bias_`` / ends with ``_bias``
(conv, linear and normalisation biases, GRU/LSTM ``bias_ih_l0``..., attention ``in_proj_bias``).
BatchNorm statistics stay those of the pre-trained model (``bn_policy`` "frozen"): BitFit
changes only additive terms. Nothing is merged: the model trains in its deployable form.
"""

from __future__ import annotations

from torch import nn

from harbench.contracts import HarbenchError, MethodPlugin

from .common import freeze, head_name, in_head, require_trainable, unfreeze_modules


def is_bias(name: str) -> bool:
    """Whether the parameter called ``name`` (dotted) is a bias term."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "bias" or leaf.startswith("bias_") or leaf.endswith("_bias")


def backbone_biases(model: nn.Module) -> list[str]:
    """Names of the bias parameters outside the head."""
    head = head_name(model)
    return [n for n, _ in model.named_parameters() if is_bias(n) and not in_head(n, head)]


class BitFit(MethodPlugin):
    name = "bitfit"
    description = "BitFit: train every bias term of the backbone, plus the head"
    bn_policy = "frozen"

    def adapt(self, model: nn.Module, **params) -> nn.Module:
        biases = backbone_biases(model)
        if not biases:
            raise HarbenchError(
                f"method 'bitfit' found no bias term outside the head in {type(model).__name__}: "
                "it would train the head alone (use linear_probe for that)"
            )
        freeze(model)
        named = dict(model.named_parameters())
        for name in biases:
            named[name].requires_grad_(True)
        unfreeze_modules(model, [head_name(model)])
        return require_trainable(model, self.name)


PLUGINS = (BitFit,)
