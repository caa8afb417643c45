"""The public Python API: a thin facade over :mod:`harbench.blocks` (build, adapt, merge, count
and the typed records they attach) plus :func:`run_suite`, for notebooks and other tools."""

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
    calibrate,
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
    "calibrate",
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
