"""VeRA through peft: frozen random projections shared by every target, trainable scaling vectors.

Linear layers only: a conv target is refused with its name. ``r`` is the rank of the shared
projections, so it may exceed a layer's sides (no rank bound is checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harbench.settings import PluginParams, setting

from .._base import LINEAR_ONLY, dropout_field, rank_field, targets_field
from .._peft import PeftMethod


@dataclass(frozen=True)
class VeRAParams(PluginParams):
    """VeRA's parameters."""

    r: int = rank_field(64, "rank of the shared random projections")
    d_initial: float = setting(0.1, "initial value of the trainable vector d", min=0)
    dropout: float = dropout_field()
    prng_key: int = setting(0, "seed of the shared random projections", min=0)
    targets: Any = targets_field()


class VeRA(PeftMethod):
    name = "vera"
    description = "VeRA (peft): frozen shared random projections, trainable scaling vectors"
    support = LINEAR_ONLY
    needs = ("linear",)
    rank_key = None  # shared random projections: r may exceed a layer's sides
    params = VeRAParams
    peft_config = "VeraConfig"
    peft_fields = {"r": "r", "d_initial": "d_initial", "dropout": "vera_dropout",
                   "prng_key": "projection_prng_key"}
    peft_constants = {"save_projection": True}


PLUGINS = (VeRA,)
