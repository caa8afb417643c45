"""The public Python API: a thin facade over the building blocks, for notebooks and other tools.

A module built here carries one record, a :class:`~harbench.contracts.ModelInfo` (what the
backbone is: head, target families, input shape); once adapted, an
:class:`~harbench.contracts.AdaptedInfo` (method, resolved parameters, BatchNorm policy). Read
them with :func:`model_info` and :func:`adapted_info`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harbench.blocks import (
    AdaptedInfo,
    ModelInfo,
    adapt,
    adapted_info,
    attach_info,
    build_model,
    count,
    merge,
    model_info,
    resolve_bn_policy,
)

__all__ = [
    "AdaptedInfo",
    "ModelInfo",
    "adapt",
    "adapted_info",
    "attach_info",
    "build_model",
    "count",
    "merge",
    "model_info",
    "resolve_bn_policy",
    "run_suite",
]


def run_suite(path: str | Path, *, db: str | Path | None = None, **options: Any):
    """Run every pending cell of a suite file; returns the summary of what ran.

    Prints nothing: pass ``sink=callable`` to receive the progress events
    (:mod:`harbench.events`).
    """
    from harbench.coordinator import run_suite as _run_suite

    return _run_suite(path, db=db, **options)
