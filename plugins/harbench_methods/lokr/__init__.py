"""LoKr through peft: the Kronecker product of a small factor and a low-rank factor.

Like LoHa (whose parameters it extends), its update is a full kernel applied with the layer's own
groups and dilation, so grouped and dilated convs adapt and merge correctly; ``alpha`` null means
``2 * r``.
"""

from __future__ import annotations

from dataclasses import dataclass

from harbench.settings import setting

from .._peft import PeftMethod
from ..loha import FULL_KERNEL_UPDATE, LoHa, LycorisParams


@dataclass(frozen=True)
class LoKrParams(LycorisParams):
    """LoHa's parameters, then LoKr's own."""

    decompose_both: bool = setting(False, "decompose the small Kronecker factor too")
    decompose_factor: int = setting(
        -1, "Kronecker factor size (-1: as square as possible)", min=-1
    )


class LoKr(PeftMethod):
    name = "lokr"
    description = "LoKr (peft): Kronecker product of a small and a low-rank factor; Linear and conv"
    version = "2"  # alpha defaults to 2 * r (was a fixed 8)
    support = FULL_KERNEL_UPDATE
    params = LoKrParams
    peft_config = "LoKrConfig"
    peft_fields = {**LoHa.peft_fields, "decompose_both": "decompose_both",
                   "decompose_factor": "decompose_factor"}


PLUGINS = (LoKr,)
