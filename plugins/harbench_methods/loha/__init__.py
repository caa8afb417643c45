"""LoHa through peft: the Hadamard product of two low-rank updates.

Its update is a full kernel applied with the layer's own groups and dilation, so grouped and
dilated convs adapt and merge correctly. The update is scaled by ``alpha / r``; ``alpha`` null
(the default) means ``2 * r``, the same scaling at every rank. LoKr (``harbench_methods.lokr``)
shares this parameter record and layer support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harbench.settings import PluginParams, setting

from .._base import LayerSupport, alpha_field, dropout_field, rank_field, targets_field
from .._peft import PeftMethod, twice_rank

FULL_KERNEL_UPDATE = LayerSupport()


@dataclass(frozen=True)
class LycorisParams(PluginParams):
    """The parameters LoHa and LoKr share."""

    r: int = rank_field(8)
    alpha: Any = alpha_field("update scale numerator: alpha / r; null: 2 * r")
    rank_dropout: float = dropout_field("dropout probability on the update's rank components")
    module_dropout: float = dropout_field("probability of skipping a whole adapter in a step")
    effective_conv2d: bool = setting(False, "parametrise Conv2d updates by the effective kernel")
    targets: Any = targets_field()

    def derived(self) -> LycorisParams:
        return twice_rank(self)


class LoHa(PeftMethod):
    name = "loha"
    description = "LoHa (peft): Hadamard product of two low-rank updates; Linear and conv layers"
    version = "2"  # alpha defaults to 2 * r (was a fixed 8)
    support = FULL_KERNEL_UPDATE
    params = LycorisParams
    peft_config = "LoHaConfig"
    peft_fields = {"r": "r", "alpha": "alpha", "rank_dropout": "rank_dropout",
                   "module_dropout": "module_dropout", "effective_conv2d": "use_effective_conv2d"}


PLUGINS = (LoHa,)
