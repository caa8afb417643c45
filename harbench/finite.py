"""A run is ``ok`` only when its numbers are finite: checks that name the phase that failed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harbench.contracts import HarbenchError


class NonFiniteError(HarbenchError):
    """A model output or a metric is NaN or infinite: the run is failed, never scored."""


def check_logits(logits: Any, phase: str) -> None:
    """Raise :class:`NonFiniteError` when any of ``logits`` (a tensor) is NaN or infinite."""
    import torch

    finite = torch.isfinite(logits)
    if bool(finite.all()):
        return
    bad = int((~finite).sum())
    rows = int((~finite).any(dim=-1).sum()) if logits.dim() > 1 else bad
    raise NonFiniteError(
        f"{phase}: the model's outputs hold {bad} NaN/inf value(s) in {rows} of {len(logits)} "
        "windows; a prediction from them would be meaningless, so the run is not scored"
    )


def non_finite(values: Mapping[str, Any]) -> list[str]:
    """Names of the numeric ``values`` that are NaN or infinite (or not numbers at all)."""
    bad = []
    for name, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            bad.append(name)
            continue
        if not math.isfinite(number):
            bad.append(name)
    return bad


def check_metrics(values: Mapping[str, Any], phase: str = "metrics") -> None:
    """Raise :class:`NonFiniteError` naming every metric that is not a finite number."""
    bad = non_finite(values)
    if bad:
        shown = ", ".join(f"{k}={values[k]!r}" for k in bad)
        raise NonFiniteError(f"{phase}: not finite: {shown}; the run is not stored as ok")
