"""What a worker does with one trial: train each of the study's runs with the trial's parameters
and score it on validation; a pure function of the trial (it never writes the store).

A trial builds the run's data (:func:`harbench.rundata.prepare`), pretrains or loads the source
model when the run has a stage, adapts, and trains with early stopping on the inner validation
split. By default (``score: validation``) the fold's test part is never evaluated: the score is
the mean over the study's runs of the best validation macro-F1. With ``score: development`` (only
with development targets, which are never reported and removed from nothing but the reported
runs' targets) each run is scored instead by the macro-F1 of the trained model (best checkpoint)
on its development target's later part: the same kind of windows the reported runs are tested
on, from a person no reported run is tested on. The subjects whose windows the trial trained or
was scored on are returned with it (``subjects``), so a reader can check that no reported
subject was among them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harbench.spec import RunSpec
from harbench.tuning import pruning

BACKWARD_FACTOR = 3  # training MACs per window: forward + backward ~ 3 forward passes


@dataclass(frozen=True)
class Trial:
    """One trial of a study, as dispatched: its runs (parameters applied) and the thresholds
    below which it is pruned (str(step) -> best-so-far validation macro-F1)."""

    study: str
    number: int
    params: dict[str, Any]
    runs: list[RunSpec]
    thresholds: dict[str, float] = field(default_factory=dict)  # str(step): JSON-safe
    label: str = ""
    score: str = "validation"  # or "development": the development target's later part

    @property
    def run_id(self) -> str:  # executors that name their jobs use it
        return f"{self.study}-trial-{self.number}"

    def short(self) -> str:
        return f"trial {self.number} of {self.label} ({self.study[:8]})"


@dataclass
class TrialResult:
    study: str
    number: int
    params: dict[str, Any]
    state: str  # "completed", "pruned" or "failed"
    value: float | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # wall time, pretraining stages left out (their own cost)
    macs: float = 0.0
    subjects: list[int] = field(default_factory=list)
    error: str = ""


class Pruned(Exception):
    """Raised from the epoch callback when the trial falls below its threshold."""


def execute_trial(trial: Trial, emit: Callable[[Any], None] | None = None) -> TrialResult:
    """Run ``trial`` (any process); a failure becomes a failed trial carrying its error."""
    started = time.perf_counter()
    _stage_seconds[0] = 0.0
    out = TrialResult(trial.study, trial.number, dict(trial.params), "completed")
    seen: set[int] = set()
    bests: list[float] = []
    try:
        for target, spec in enumerate(trial.runs):
            best, macs = _train(spec, target, trial.thresholds, out.curve, seen, trial.score)
            bests.append(best)
            out.macs += macs
        out.value = float(np.mean(bests))
    except Pruned:
        out.state = "pruned"
        out.macs += _macs_so_far[0]
    except Exception as exc:  # a trial that raises must not stop the study
        out.state, out.error = "failed", f"{type(exc).__name__}: {exc}"
    out.seconds = time.perf_counter() - started - _stage_seconds[0]
    out.subjects = sorted(seen)
    return out


_macs_so_far = [0.0]  # the MACs of a run stopped by pruning (read once the exception unwinds)
_stage_seconds = [0.0]  # pretraining stages loaded or trained: their own cost, not the trial's


def _train(spec: RunSpec, target: int, thresholds: dict[str, float],
           curve: list[dict[str, Any]], seen: set[int], score: str = "validation"
           ) -> tuple[float, float]:
    """Train ``spec`` on its training part; its score (the best validation macro-F1, or with
    ``score`` "development" the trained model's macro-F1 on the run's later part) and the MACs
    spent."""
    import torch

    from harbench import blocks, pretrain
    from harbench.devices import run_device, run_threads
    from harbench.rundata import prepare
    from harbench.runner import bn_policy, seed_everything
    from harbench.train import TrainConfig, fit, to_tensors

    torch.set_num_threads(run_threads())
    seed_everything(spec.seed)
    data = prepare(spec)
    windows = data.windows
    used = np.concatenate([data.labelled, data.val] + ([data.source] if spec.pretrain else []))
    seen.update(int(s) for s in np.unique(windows.subject[used]))
    X, y = to_tensors(data.normalised(data.labelled), windows.y[data.labelled])
    X_val, y_val = to_tensors(data.normalised(data.val), windows.y[data.val])
    n_classes, channels, window = len(windows.classes), X.shape[2], X.shape[1]
    model = blocks.build_model(spec.model, channels=channels, window=window, classes=n_classes,
                               **spec.model_params)
    pretrain.strip_pretraining(model)
    if spec.pretrain is not None:
        stage_started = time.perf_counter()
        pretrain.for_run(spec, model, data)
        _stage_seconds[0] += time.perf_counter() - stage_started
    model = blocks.adapt(model, spec.method, bn_policy=bn_policy(spec), **spec.method_params)
    frozen = blocks.adapted_info(model).bn_policy == "frozen"
    model.to(run_device())
    forward = float(blocks.count(model, window=window, channels=channels)["macs"])
    best = [float("-inf")]
    _macs_so_far[0] = 0.0

    def on_epoch(row: dict[str, float]) -> None:
        epoch = int(row["epoch"])
        _macs_so_far[0] += forward * (BACKWARD_FACTOR * row.get("samples", 0) + len(y_val))
        best[0] = max(best[0], float(row["val_f1"]))
        curve.append({"target": target, "epoch": epoch, "val_f1": float(row["val_f1"]),
                      "val_loss": float(row["val_loss"]), "seconds": float(row["seconds"])})
        limit = thresholds.get(str(pruning.step_of(target, epoch)))
        if limit is not None and best[0] < limit:
            raise Pruned(f"best validation macro-F1 {best[0]:.4f} < {limit:.4f} at epoch {epoch}")

    fit(model, (X, y), (X_val, y_val), TrainConfig.from_dict(spec.training),
        n_classes=n_classes, bn_frozen=frozen, seed=spec.seed, on_epoch=on_epoch)
    if score == "development":
        return development_score(model, data, n_classes), _macs_so_far[0]
    return best[0], _macs_so_far[0]


def development_score(model: Any, data: Any, n_classes: int) -> float:
    """The trained model's macro-F1 on the development target's later part (``data.test``: the
    windows after its adaptation part in time, as the protocol split them)."""
    from harbench.train import evaluate, to_tensors

    X_dev, y_dev = to_tensors(data.normalised(data.test), data.windows.y[data.test])
    return float(evaluate(model, X_dev, y_dev, n_classes,
                          phase="trial on the development target's later part")["macro_f1"])
