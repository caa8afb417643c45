"""Time-to-target against one target shared by every method of a comparison group.

A comparison group is every run with the same spec except the method (same dataset, backbone,
pretraining, protocol, budget, window, fold and seed). Its target is ``fraction`` of the reference
method's best validation macro-F1, or an absolute ``f1``. Each run's time to the target is the sum
of the per-epoch ``seconds`` of its stored training curve up to and including the first epoch whose
``val_f1`` reaches it. A run that never reaches it has no time ("not reached"), never a fast one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report.configs import METHOD_KEYS, config_key
from harbench.report.runs import Run

DEFAULT_REFERENCE = "full"
DEFAULT_FRACTION = 0.95
COMPUTED_METRICS = ("time_to_common_target_s", "epochs_to_common_target", "speedup_to_target")


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
                f"'{self.reference}' in each comparison group")


def is_reference(run: Run, reference: str) -> bool:
    return reference in (run.method, run.method_label)


def time_to(curve: list[dict[str, Any]], target: float) -> tuple[float | None, int | None]:
    """(cumulative seconds, epochs) until ``val_f1 >= target``; (None, None) if never."""
    total = 0.0
    for index, row in enumerate(sorted(curve, key=lambda r: r["epoch"]), start=1):
        total += float(row.get("seconds") or 0.0)
        if row.get("val_f1") is not None and row["val_f1"] >= target:
            return total, int(row.get("epoch") or index)
    return None, None


def comparison_key(run: Run) -> tuple:
    """The comparison group of a run: its spec without the method and without the optimisation
    settings a method may tune (lr, epochs, patience, ...), keeping the label budget; with fold
    and seed. Dataset, backbone, pretraining, protocol, budget and window stay fixed."""
    budget = run.flat_config().get("training.budget")
    budget_items = {k: v for k, v in run.flat_config().items() if k.startswith("training.budget")}
    kept = tuple(sorted((k, repr(v)) for k, v in budget_items.items())) or (
        ("training.budget", repr(budget)),
    )
    return config_key(run, drop=(*METHOD_KEYS, "training")) + kept + (run.fold, run.seed)


def common_targets(runs: list[Run], curves: dict[str, list[dict[str, Any]]],
                   setting: TargetSetting) -> dict[str, dict[str, float | None]]:
    """Per run id: target, time and epochs to it, speed-up over the group's reference run.

    Groups without a reference run get no entries when the target is a fraction of the
    reference's best; with an absolute ``f1`` the time is still computed (no speed-up).
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
        ref_time = time_to(curves.get(ref.run_id, []), target)[0] if ref else None
        for run in members:
            seconds, epochs = time_to(curves.get(run.run_id, []), target)
            speedup = (ref_time / seconds if ref_time is not None and seconds else None)
            out[run.run_id] = {
                "common_target_f1": target,
                "time_to_common_target_s": seconds,
                "epochs_to_common_target": None if epochs is None else float(epochs),
                "speedup_to_target": speedup,
                "reached": 1.0 if seconds is not None else 0.0,
            }
    return out
