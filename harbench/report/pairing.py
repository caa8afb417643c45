"""Which runs are compared with which: the independent unit and the pairing rule, in one place.

The rule (used by the leaderboard's paired tests, time-to-target and the reproduction table):

- Two runs are **paired** when their stored specs agree on everything except the compared axis
  (the method: its name, parameters and plugin version; or the backbone for a model comparison)
  and the method's own optimisation settings (:data:`OPTIMISATION_KEYS`: lr, epochs, patience,
  batch size, ...). A method that the suite gives its own lr is therefore still paired with the
  reference; a different label budget, window, protocol, pretraining, dataset or fold is not.
- The **unit** of analysis is one (dataset, fold/target subject) cell: seeds of one unit are
  pseudo-replicates, so they are averaged first and statistics run across units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harbench.report.configs import METHOD_KEYS, config_items
from harbench.report.runs import Run

MODEL_KEYS = ("model", "model_params", "versions.model")  # what changes with the backbone
# The settings a method may have of its own (suites tune them per method with `overrides`); the
# label budget and the validation split stay fixed because they change the data, not the method.
OPTIMISATION_KEYS = tuple(f"training.{name}" for name in (
    "epochs", "batch_size", "lr", "weight_decay", "patience", "lr_patience", "lr_factor",
    "monitor", "precision", "measure_latency", "bn_policy"))


# a tuned run's study family differs with the method's own space and code: methods tuned with
# the same budget are paired (the budget, tuning.trials, stays in the pairing settings)
TUNING_KEYS = ("tuning.family",)


def pairing_items(run: Run, vary: Iterable[str] = METHOD_KEYS) -> dict[str, Any]:
    """The settings two paired runs share: the spec without fold, seed, ``vary`` and the
    optimisation settings."""
    return config_items(run, drop=(*vary, *OPTIMISATION_KEYS, *TUNING_KEYS))


def pairing_key(run: Run, vary: Iterable[str] = METHOD_KEYS) -> tuple:
    """The unit a run belongs to, as seen by a comparison along ``vary``: its pairing settings
    and its fold (the seed is left out: seeds of one unit are averaged)."""
    items = pairing_items(run, vary)
    return tuple(sorted((k, repr(v)) for k, v in items.items())) + (("fold", run.fold),)


def comparison_key(run: Run, vary: Iterable[str] = METHOD_KEYS) -> tuple:
    """:func:`pairing_key` with the seed: runs compared one to one (time-to-target)."""
    return pairing_key(run, vary) + (("seed", run.seed),)


def unit_label(run: Run) -> str:
    """'hapt_embedded/fold 2': the unit as a reader sees it."""
    return f"{run.dataset}/fold {run.fold}"


@dataclass
class UnitValues:
    """Per-unit means of one quantity over a set of runs (seeds averaged)."""

    means: dict[tuple, float] = field(default_factory=dict)
    seeds: dict[tuple, int] = field(default_factory=dict)
    labels: dict[tuple, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.means)

    def seeds_text(self) -> str:
        """'2' when every unit has two seeds, '1-3' when they differ, '' when empty."""
        counts = sorted(set(self.seeds.values()))
        if not counts:
            return ""
        return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def unit_values(runs: Iterable[Run], value: Callable[[Run], float | None],
                key: Callable[[Run], tuple] = pairing_key) -> UnitValues:
    """Average ``value`` over the seeds of each unit (runs without a value are skipped)."""
    sums: dict[tuple, list[float]] = {}
    out = UnitValues()
    for run in runs:
        found = value(run)
        if found is None:
            continue
        k = key(run)
        sums.setdefault(k, []).append(float(found))
        out.labels.setdefault(k, unit_label(run))
    for k, values in sums.items():
        out.means[k] = sum(values) / len(values)
        out.seeds[k] = len(values)
    return out


@dataclass
class Pairs:
    """Unit means of a method beside the reference's, on the units both have."""

    values: list[float]
    reference: list[float]
    units: list[str]
    why_none: str = ""  # set when no pair could be formed

    @property
    def n(self) -> int:
        return len(self.values)


def pair_units(members: list[Run], references: list[Run], value: Callable[[Run], float | None],
               vary: Iterable[str] = METHOD_KEYS, reference_name: str = "the reference"
               ) -> Pairs:
    """Pair the unit means of ``members`` with those of ``references`` by :func:`pairing_key`."""
    vary = tuple(vary)

    def key(run: Run) -> tuple:
        return pairing_key(run, vary)

    mine = unit_values(members, value, key)
    ref = unit_values(references, value, key)
    shared = [k for k in mine.means if k in ref.means]
    pairs = Pairs([mine.means[k] for k in shared], [ref.means[k] for k in shared],
                  [mine.labels[k] for k in shared])
    if not shared:
        pairs.why_none = why_unpaired(members, references, vary, reference_name)
    return pairs


def why_unpaired(members: list[Run], references: list[Run], vary: tuple[str, ...],
                 reference_name: str) -> str:
    """Why no run of ``members`` has a partner among ``references``: the settings that differ
    from the closest reference run, or the folds missing."""
    if not members:
        return "no run with the metric"
    if not references:
        return f"no run of {reference_name} with the metric"
    mine = pairing_items(members[0], vary)
    best: tuple[list[str], dict[str, Any]] | None = None
    for ref in references:
        theirs = pairing_items(ref, vary)
        differ = sorted(k for k in set(mine) | set(theirs)
                        if repr(mine.get(k, "<absent>")) != repr(theirs.get(k, "<absent>")))
        if best is None or len(differ) < len(best[0]):
            best = (differ, theirs)
    assert best is not None
    differ, ref_items = best
    if not differ:
        folds = sorted({r.fold for r in members})
        ref_folds = sorted({r.fold for r in references})
        return (f"{reference_name} has no run on the same fold (folds {folds} vs "
                f"{ref_folds})")
    shown = ", ".join(f"{k}={mine.get(k, '<absent>')} (reference: "
                      f"{ref_items.get(k, '<absent>')})" for k in differ[:3])
    more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
    return f"{reference_name} differs in {shown}{more}"
