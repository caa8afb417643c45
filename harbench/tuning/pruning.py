"""Pruning thresholds computed by the coordinator from the stored curves of finished trials.

A trial is handed, when it is dispatched, the value its validation macro-F1 (best so far within
each development target) must reach at each step; below it, the trial stops there and is stored
as pruned. The thresholds depend only on the trials finished before its batch, so pruning is the
same on any executor and after any resume.

- ``median``: at every epoch, the median of the completed trials' best-so-far at that epoch
  (Optuna's MedianPruner rule).
- ``halving``: successive halving: at rung epochs 1, 3, 9, ... (``ETA`` = 3) a trial goes on only
  when it is within the best third of the trials (completed or pruned) that reached that rung.

No threshold applies before ``startup`` trials have completed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

ETA = 3
STEP = 10_000  # step = target index * STEP + epoch (Optuna needs one integer per report)


def step_of(target: int, epoch: int) -> int:
    return target * STEP + epoch


def best_so_far(curve: list[dict[str, Any]]) -> dict[int, float]:
    """{step: best validation macro-F1 so far within the same target} of a stored curve."""
    out: dict[int, float] = {}
    best: dict[int, float] = {}
    for row in curve:
        target, epoch = int(row["target"]), int(row["epoch"])
        best[target] = max(best.get(target, float("-inf")), float(row["val_f1"]))
        out[step_of(target, epoch)] = best[target]
    return out


def thresholds(pruner: str, finished: Iterable[Any], startup: int) -> dict[int, float]:
    """The minimum best-so-far at each step for a trial dispatched after ``finished`` (records
    with ``state`` and ``curve``)."""
    finished = list(finished)
    completed = [t for t in finished if t.state == "completed"]
    if pruner == "none" or len(completed) < max(1, startup):
        return {}
    if pruner == "median":
        return _median([best_so_far(t.curve) for t in completed])
    reached = [best_so_far(t.curve) for t in finished if t.state in ("completed", "pruned")]
    return _halving(reached)


def _median(curves: list[dict[int, float]]) -> dict[int, float]:
    steps = sorted(set().union(*curves)) if curves else []
    return {s: statistics.median(c[s] for c in curves if s in c) for s in steps}


def rungs(max_epoch: int) -> list[int]:
    out, epoch = [], 1
    while epoch < max_epoch:
        out.append(epoch)
        epoch *= ETA
    return out


def _halving(curves: list[dict[int, float]]) -> dict[int, float]:
    out: dict[int, float] = {}
    steps = sorted(set().union(*curves)) if curves else []
    last_epoch = max((s % STEP for s in steps), default=0)
    rung_epochs = set(rungs(last_epoch))  # a rung at the last epoch would save nothing
    for step in steps:
        if step % STEP not in rung_epochs:
            continue
        values = sorted((c[step] for c in curves if step in c), reverse=True)
        keep = max(1, len(values) // ETA)
        out[step] = values[keep - 1]
    return out
