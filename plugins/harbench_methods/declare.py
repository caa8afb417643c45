"""What the built-in methods declare, without importing torch: parameters, layer support, needs.

Every plugin class module imports only this module (and ``harbench.contracts`` /
``harbench.settings``) at load time; the code that touches tensors lives in implementation
modules (``common``, ``tt_conv``, ``nf4``, ``adalora_steps``) imported when a method runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harbench.contracts import MethodPlugin
from harbench.settings import Param, defaults_of

# shorthands for ``targets``; neither includes the head nor pretraining-only modules
ALL_LINEAR = "all-linear"  # every nn.Linear
ALL_LAYERS = "all"  # every layer of the types the method supports

# the target families a method may need (ModelPlugin.targets keys)
LINEAR_AND_CONV = ("linear", "conv")  # any one of them will do


class Method(MethodPlugin):
    """A built-in method: ``params`` is the one declaration; ``defaults`` is derived from it."""

    params: ClassVar[dict[str, Param]] = {}
    # target families (ModelPlugin.targets keys) of which the backbone must declare at least one
    # non-empty family for this method to adapt it; () adapts any backbone
    needs: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.defaults = defaults_of(cls.params)

    def adapter_state(self, model: Any) -> dict[str, Any]:
        """The trainable parameters, and the BatchNorm running statistics when the run updates
        them (``bn_policy`` "update"): both are needed to reproduce the trained model."""
        from .common import running_statistics

        return {**super().adapter_state(model), **running_statistics(model)}

    def load_adapter_state(self, model: Any, state: dict[str, Any]) -> None:
        from .common import load_plain_state

        load_plain_state(model, state, self.name)


@dataclass(frozen=True)
class LayerSupport:
    """Which layers a method can adapt, and which conv variants it computes (and merges) correctly.

    ``types`` names ``torch.nn`` classes (resolved on use, so declaring costs no torch import).
    ``grouped_conv``/``dilated_conv`` False: the method refuses convs with ``groups > 1`` or
    ``dilation != 1`` instead of silently computing something else; ``any_padding`` False: it
    refuses convs whose ``padding_mode`` is not "zeros" (an adapter branch pads with zeros).
    """

    types: tuple[str, ...] = ("Linear", "Conv1d", "Conv2d")
    grouped_conv: bool = True
    dilated_conv: bool = True
    any_padding: bool = False

    @property
    def classes(self) -> tuple[type, ...]:
        from torch import nn

        return tuple(getattr(nn, name) for name in self.types)

    def describe(self) -> str:
        return ", ".join(self.types)


# --- parameter declarations shared by several methods --------------------------------------------

TARGETS_DOC = (
    "layers to adapt: 'default' (the backbone's 'adapter' family, else its 'linear' and 'conv' "
    "families), a family the backbone declares, 'all-linear', 'all', a module-name suffix, or a "
    "list of families and suffixes"
)


def targets_param(default: Any = "default", doc: str = TARGETS_DOC) -> Param:
    return Param(default, doc, kind="names")


def rank_param(default: int, doc: str = "adapter rank") -> Param:
    return Param(default, doc, min=1, max=4096)


def alpha_param(doc: str) -> Param:
    return Param(None, doc, kind="float", min=0, min_exclusive=True, nullable=True)


def dropout_param(doc: str = "dropout probability on the adapter branch") -> Param:
    return Param(0.0, doc, min=0, max=1, max_exclusive=True)


def alpha_or_twice(params: dict[str, Any], rank_key: str = "r") -> dict[str, Any]:
    """``params`` with ``alpha`` None resolved to ``2 * params[rank_key]`` (a constant scaling
    alpha / r = 2 across a rank sweep)."""
    if params.get("alpha") is None:
        return {**params, "alpha": 2 * params[rank_key]}
    return params
