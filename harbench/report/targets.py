"""Time-to-target against one target shared by every method of a comparison group.

A comparison group is every run paired by :mod:`harbench.report.pairing` (same dataset, backbone,
pretraining, protocol, budget, window, fold and seed; the method and its own optimisation settings
may differ). Its target is ``fraction`` of the reference method's best validation macro-F1, or an
absolute ``f1``. A run's cost to the target sums its stored per-epoch curve up to and including the
first epoch whose ``val_f1`` reaches it, in three measures:

- seconds (wall clock of the epochs, validation included; setup excluded),
- optimiser steps,
- training MACs = 3 x the trained model's counted forward MACs per window x windows seen: the
  usual forward + backward estimate (backward ~ 2 x forward). It charges a PEFT method the full
  backward, so MAC speed-ups of methods with frozen weights are conservative.

A run that never reaches the target has no cost ("not reached"), never a small one. A run that
trains no epoch (``none``, ``adabn``) has no time-to-target at all: not applicable, neither
reached nor "not reached". The seconds
figure is marked unreliable when the reference reaches the target in its first epoch or in under
one second: the ratio then times per-epoch overheads, not convergence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report.pairing import comparison_key as _pairing_comparison_key
from harbench.report.runs import Run

DEFAULT_REFERENCE = "full"
DEFAULT_FRACTION = 0.95
BACKWARD_FACTOR = 3.0  # training MACs per window seen = 3 x forward MACs
UNRELIABLE_SECONDS = 1.0
RATIO_METRICS = ("speedup_to_target", "speedup_steps_to_target", "speedup_macs_to_target")
COMPUTED_METRICS = ("time_to_common_target_s", "epochs_to_common_target",
                    "steps_to_common_target", "macs_to_common_target", *RATIO_METRICS)


@dataclass(frozen=True)
class TargetSetting:
    reference: str = DEFAULT_REFERENCE
    fraction: float | None = DEFAULT_FRACTION
    f1: float | None = None

    @classmethod
    def from_options(cls, reference: str | None, fraction: float | None, f1: float | None,
                     suite_block: dict[str, Any] | None = None) -> TargetSetting:
        """Command-line options first, then the suite's ``compare:`` block, then the defaults."""
        block = suite_block or {}
        if fraction is not None and f1 is not None:
            raise HarbenchError("give --target-fraction or --target-f1, not both")
        if f1 is None and fraction is None:
            f1 = block.get("f1")
            fraction = block.get("fraction")
            if f1 is not None and fraction is not None:
                raise HarbenchError("suite block compare: give fraction or f1, not both")
        if f1 is None and fraction is None:
            fraction = DEFAULT_FRACTION
        for name, value in (("fraction", fraction), ("f1", f1)):
            if value is not None and not 0 < float(value) <= 1:
                raise HarbenchError(f"compare {name} must be in (0, 1], got {value!r}")
        return cls(reference or block.get("reference") or DEFAULT_REFERENCE,
                   None if fraction is None else float(fraction),
                   None if f1 is None else float(f1))

    def describe(self) -> str:
        if self.f1 is not None:
            return f"common target: validation macro-F1 >= {self.f1:.3f}"
        return (f"common target: {self.fraction:g} x the best validation macro-F1 of "
                f"'{self.reference}' in each comparison group; cost in seconds, optimiser steps "
                f"and training MACs (3 x forward MACs x windows seen)")


def is_reference(run: Run, reference: str) -> bool:
    return reference in (run.method, run.method_label)


@dataclass(frozen=True)
class Reach:
    """The cost of reaching a target: None everywhere when it is never reached."""

    seconds: float | None = None
    epochs: int | None = None
    steps: float | None = None
    samples: float | None = None


def epoch_counts(run: Run | None) -> tuple[float | None, float | None]:
    """(steps, windows) of one epoch as ``fit`` runs it, for curves stored before they were
    recorded: every batch of ``training.batch_size`` windows, a last batch of one skipped."""
    if run is None or "train_windows" not in run.metrics:
        return None, None
    n = int(run.metrics["train_windows"])
    batch = run.flat_config().get("training.batch_size")
    if not batch:
        return None, None
    if int(batch) == 1 and n >= 2:  # every batch is a batch of one: all skipped
        return 0.0, 0.0
    steps, last = divmod(n, int(batch))
    if last >= 2 or (last == 1 and n < 2):
        steps += 1
    elif last == 1:
        n -= 1
    return float(steps), float(n)


def reach(curve: list[dict[str, Any]], target: float, run: Run | None = None) -> Reach:
    """Seconds, epochs, steps and windows seen until ``val_f1 >= target``."""
    fallback = epoch_counts(run)
    seconds = steps = samples = 0.0
    for index, row in enumerate(sorted(curve, key=lambda r: r["epoch"]), start=1):
        seconds += float(row.get("seconds") or 0.0)
        epoch_steps = row.get("steps") if row.get("steps") is not None else fallback[0]
        epoch_samples = row.get("samples") if row.get("samples") is not None else fallback[1]
        steps = None if steps is None or epoch_steps is None else steps + float(epoch_steps)
        samples = (None if samples is None or epoch_samples is None
                   else samples + float(epoch_samples))
        if row.get("val_f1") is not None and row["val_f1"] >= target:
            return Reach(seconds, int(row.get("epoch") or index), steps, samples)
    return Reach()


def time_to(curve: list[dict[str, Any]], target: float) -> tuple[float | None, int | None]:
    """(cumulative seconds, epochs) until ``val_f1 >= target``; (None, None) if never."""
    found = reach(curve, target)
    return found.seconds, found.epochs


def forward_macs(run: Run) -> float | None:
    """Forward MACs per window of the model as trained (adapters unmerged); the backbone's
    count for runs stored before that was recorded."""
    return run.metrics.get("train_forward_macs", run.metrics.get("macs"))


def training_macs(run: Run, samples: float | None) -> float | None:
    """The forward + backward estimate: 3 x forward MACs per window x windows seen."""
    macs = forward_macs(run)
    if samples is None or macs is None:
        return None
    return BACKWARD_FACTOR * macs * samples


def comparison_key(run: Run) -> tuple:
    """The comparison group of a run: the pairing rule of :mod:`harbench.report.pairing`
    (the spec without the method and its optimisation settings), with fold and seed."""
    return _pairing_comparison_key(run)


def unreliable_note(runs: list[Run], metric: str) -> list[str]:
    """A note when seconds-based figures rest on runs whose reference reached the target in its
    first epoch or in under a second (after :func:`common_targets` filled the run metrics)."""
    if metric not in ("speedup_to_target", "time_to_common_target_s"):
        return []
    flagged = [r for r in runs if r.metrics.get("seconds_unreliable") == 1.0]
    if not flagged:
        return []
    return [f"seconds unreliable for {len(flagged)} of {len(runs)} runs (the reference reaches "
            f"the target in its first epoch or in under {UNRELIABLE_SECONDS:g} s): see "
            f"speedup_steps_to_target and speedup_macs_to_target"]


def _ratio(reference: float | None, value: float | None) -> float | None:
    return reference / value if reference is not None and value else None


def common_targets(runs: list[Run], curves: dict[str, list[dict[str, Any]]],
                   setting: TargetSetting) -> dict[str, dict[str, float | None]]:
    """Per run id: target, cost to it (seconds, epochs, steps, training MACs), speed-ups over the
    group's reference run in each measure, and whether the seconds are unreliable.

    Groups without a reference run get no entries when the target is a fraction of the
    reference's best; with an absolute ``f1`` the costs are still computed (no speed-up).
    """
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(comparison_key(run), []).append(run)
    out: dict[str, dict[str, float | None]] = {}
    for members in groups.values():
        refs = [r for r in members if is_reference(r, setting.reference)]
        ref = refs[0] if refs else None
        if setting.f1 is not None:
            target = setting.f1
        elif ref is not None and curves.get(ref.run_id):
            best = max((row["val_f1"] for row in curves[ref.run_id]
                        if row.get("val_f1") is not None), default=None)
            if best is None:
                continue
            target = setting.fraction * best
        else:
            continue
        ref_reach = reach(curves.get(ref.run_id, []), target, ref) if ref else Reach()
        ref_macs = training_macs(ref, ref_reach.samples) if ref else None
        unreliable = None
        if ref_reach.seconds is not None:
            unreliable = float(ref_reach.epochs == 1 or ref_reach.seconds < UNRELIABLE_SECONDS)
        for run in members:
            if run.metrics.get("epochs") == 0:  # trains nothing (none, adabn): N/A
                continue
            found = reach(curves.get(run.run_id, []), target, run)
            macs = training_macs(run, found.samples)
            out[run.run_id] = {
                "common_target_f1": target,
                "time_to_common_target_s": found.seconds,
                "epochs_to_common_target": None if found.epochs is None else float(found.epochs),
                "steps_to_common_target": found.steps,
                "macs_to_common_target": macs,
                "speedup_to_target": _ratio(ref_reach.seconds, found.seconds),
                "speedup_steps_to_target": _ratio(ref_reach.steps, found.steps),
                "speedup_macs_to_target": _ratio(ref_macs, macs),
                "seconds_unreliable": unreliable,
                "reached": 1.0 if found.seconds is not None else 0.0,
            }
    return out

