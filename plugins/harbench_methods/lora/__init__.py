"""LoRA through peft: a low-rank update ``B A`` on every targeted layer, merged for deployment.

The backbone is frozen; peft wraps exactly the resolved targets (never the head; grouped or
dilated convs are refused, as peft's conv branch drops dilation and cannot merge groups); the
head trains fully. ``merge`` folds the update into a deep copy (see ``harbench_methods._peft``).

``alpha`` defaults to ``2 * r``: the update is scaled by ``alpha / r``, so a rank sweep keeps the
same scaling (2) at every rank instead of shrinking it as ``r`` grows. With ``rslora`` the scaling
is ``alpha / sqrt(r)`` (rank-stabilised LoRA), whose rule is a fixed ``alpha``: null means 16.
The value is resolved where a run's spec is made, so the stored config holds it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from harbench.settings import PluginParams, setting

from .._base import alpha_field, dropout_field, rank_field, targets_field
from .._peft import PeftMethod, twice_rank

RSLORA_ALPHA = 16  # rsLoRA's alpha when none is given: scaling 16 / sqrt(r)


@dataclass(frozen=True)
class LoRAParams(PluginParams):
    """LoRA's parameters (DoRA and QLoRA share them)."""

    r: int = rank_field(8)
    alpha: Any = alpha_field(
        "update scale numerator: alpha / r (alpha / sqrt(r) with rslora); null: 2 * r (16 with "
        "rslora)"
    )
    dropout: float = dropout_field()
    targets: Any = targets_field()
    rslora: bool = setting(False, "rank-stabilised scaling alpha / sqrt(r)")

    def derived(self) -> LoRAParams:
        if self.rslora and self.alpha is None:
            return dataclasses.replace(self, alpha=RSLORA_ALPHA)
        return twice_rank(self)


class LoRA(PeftMethod):
    name = "lora"
    description = "LoRA (peft): low-rank update on targeted layers, merged for deployment"
    version = "2"  # alpha defaults to 2 * r (was a fixed 16)
    params = LoRAParams
    peft_config = "LoraConfig"
    peft_fields = {"r": "r", "alpha": "lora_alpha", "dropout": "lora_dropout",
                   "rslora": "use_rslora"}
    peft_constants = {"bias": "none"}


PLUGINS = (LoRA,)
