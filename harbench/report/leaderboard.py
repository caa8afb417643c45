"""The leaderboard: one row per configuration, mean ± std (and on request CI and a paired test).

Rows group by the chosen columns (dataset, model, method, ...) *and* by everything else that
distinguishes a configuration in the stored canonical spec (protocol, budget, window, pretraining,
parameters), so runs of different configurations never average together; the varying part is
shown as a short "config" label.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report import statistics, targets
from harbench.report.configs import METHOD_KEYS, config_key, config_label, varying_keys
from harbench.report.formatting import kind_of
from harbench.report.runs import Run, load_curves, load_runs
from harbench.report.suites import check_suite, compare_settings
from harbench.store import Store

GROUP_ATTRS = {
    "dataset": "dataset",
    "model": "model_label",
    "method": "method_label",
    "protocol": "protocol",
    "fold": "fold",
    "seed": "seed",
}
COST_METRICS = ("trainable_params", "trainable_share", "macs", "fit_seconds", "setup_seconds",
                "peak_memory_mb")
# the same score of the source model before adaptation (stored when pretraining kept the head)
BEFORE_METRICS = {"macro_f1": "source_macro_f1", "accuracy": "source_accuracy"}
# GPU: torch's peak allocated during training; CPU: the C heap's peak bytes in use during training
# over its start (measure.memory.HeapPeak); older stores only hold the RSS over the run's start
MEMORY_SOURCES = ("cuda_peak_allocated_mb", "train_peak_heap_mb", "peak_rss_over_start_mb")


@dataclass
class Board:
    """A leaderboard: ordered column names and one dict per row."""

    metric: str
    groups: list[str]
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_lists(self) -> list[list[Any]]:
        return [[row.get(c) for c in self.columns] for row in self.rows]


def parse_by(by: str) -> list[str]:
    groups = [g.strip() for g in by.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUP_ATTRS]
    if unknown or not groups:
        raise HarbenchError(
            f"--by {by!r}: unknown group {unknown[0] if unknown else ''!r}; "
            f"use a comma list of {', '.join(GROUP_ATTRS)}"
        )
    return groups


def peak_memory(run: Run) -> float | None:
    """The run's measured training peak memory: GPU allocated when stored, else the C heap's peak
    in use during CPU training over its start, else (older stores) the RSS peak over the run's
    start."""
    for name in MEMORY_SOURCES:
        if name in run.metrics:
            return run.metrics[name]
    return None


def add_target_metrics(store: Store, runs: list[Run], setting: targets.TargetSetting) -> None:
    """Put the common time-to-target metrics into each run's metrics (computed, not stored)."""
    curves = load_curves(store, [r.run_id for r in runs], stage="train")
    for run_id, values in targets.common_targets(runs, curves, setting).items():
        run = next(r for r in runs if r.run_id == run_id)
        for name, value in values.items():
            if value is not None:
                run.metrics[name] = value


def build(
    store: Store,
    *,
    metric: str = "macro_f1",
    by: str = "dataset,model,method",
    suite: str | None = None,
    ci: bool = False,
    against: str | None = None,
    test: str = "wilcoxon",
    target: targets.TargetSetting | None = None,
) -> Board:
    """The leaderboard of ``metric`` over the stored ok runs (of ``suite``)."""
    groups = parse_by(by)
    check_suite(store, suite)
    runs = load_runs(store, suite)
    computed = metric in targets.COMPUTED_METRICS
    board = Board(metric, groups, [])
    if computed:
        setting = target or targets.TargetSetting.from_options(
            None, None, None, compare_settings(store, suite))
        add_target_metrics(store, runs, setting)
        board.notes.append(setting.describe())
    else:
        known = set().union(*(r.metrics for r in runs)) if runs else set()
        if runs and metric not in known:
            close = difflib.get_close_matches(metric, [*known, *targets.COMPUTED_METRICS], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise HarbenchError(
                f"--metric {metric!r}: no stored run has it{hint}; stored metrics: "
                f"{', '.join(sorted(known))}; computed: {', '.join(targets.COMPUTED_METRICS)}"
            )
    grouped, labels = group_runs(runs, groups)
    has_config = any(labels.values())
    row_of: dict[tuple, dict[str, Any]] = {}
    for key, members in grouped.items():
        row = _row(metric, members, ci=ci, computed=computed)
        if row is None:
            continue
        row_of[key] = {**{g: key[i] for i, g in enumerate(groups)},
                       **({"config": labels[key]} if has_config else {}), **row}
    board.rows = list(row_of.values())
    board.columns = list(groups) + (["config"] if has_config else []) + [metric, "std", "n"]
    before = BEFORE_METRICS.get(metric)
    board.columns += [before] if before and any(before in r.metrics for r in runs) else []
    board.columns += ["not_reached"] if computed else []
    board.columns += ["ci_low", "ci_high"] if ci else []
    if against:
        _add_paired_tests(row_of, grouped, runs, metric, against, test)
        board.columns += ["vs_" + against, "p", "pairs"]
        board.notes.append(
            f"vs_{against}: mean paired difference to '{against}' over runs paired on dataset, "
            f"fold, seed and every other setting; p: two-sided "
            f"{'Wilcoxon signed-rank' if test == 'wilcoxon' else 'paired t'} test (scipy)"
        )
    board.columns += list(COST_METRICS)
    sign = -1.0 if kind_of(metric) in ("score", "ratio", "number") else 1.0

    def order(row: dict[str, Any]) -> tuple:
        value = row[metric]
        return (str(row.get("dataset", "")), value != value, sign * value if value == value else 0)

    board.rows.sort(key=order)
    return board


def group_runs(runs: list[Run], groups: list[str]
               ) -> tuple[dict[tuple, list[Run]], dict[tuple, str]]:
    """Runs per configuration (the group columns + every stored setting but fold and seed), and
    each configuration's label: the settings that vary between runs of the same columns."""

    def columns_of(run: Run) -> tuple:
        return tuple(getattr(run, GROUP_ATTRS[g]) for g in groups)

    keys = varying_keys(runs, within=columns_of)
    grouped: dict[tuple, list[Run]] = {}
    labels: dict[tuple, str] = {}
    for run in runs:
        key = columns_of(run) + (config_key(run),)  # every setting, not the label alone
        grouped.setdefault(key, []).append(run)
        labels[key] = config_label(run, keys)
    return grouped, labels


def _row(metric: str, members: list[Run], *, ci: bool, computed: bool
         ) -> dict[str, Any] | None:
    """Summary of ``metric`` and mean costs over one configuration's runs."""
    values = [r.metrics[metric] for r in members if metric in r.metrics]
    if not values and not computed:
        return None
    summary = statistics.summarise(values, ci=ci)
    row: dict[str, Any] = {metric: summary.mean, "std": summary.std, "n": summary.n}
    if computed:
        row["not_reached"] = sum(1 for r in members if r.metrics.get("reached") == 0.0)
    if ci:
        row["ci_low"], row["ci_high"] = summary.ci_low, summary.ci_high
    if metric in BEFORE_METRICS:
        before = [r.metrics[BEFORE_METRICS[metric]] for r in members
                  if BEFORE_METRICS[metric] in r.metrics]
        row[BEFORE_METRICS[metric]] = sum(before) / len(before) if before else None
    for cost in COST_METRICS:
        found = [peak_memory(r) if cost == "peak_memory_mb" else r.metrics.get(cost)
                 for r in members]
        found = [v for v in found if v is not None]
        row[cost] = sum(found) / len(found) if found else None
    return row


def _add_paired_tests(row_of: dict[tuple, dict[str, Any]], grouped: dict[tuple, list[Run]],
                      runs: list[Run], metric: str, against: str, test: str) -> None:
    """Add the mean paired difference to the reference method, its p-value and pair count."""
    reference = {
        config_key(r, drop=METHOD_KEYS) + (r.fold, r.seed): r.metrics[metric]
        for r in runs if targets.is_reference(r, against) and metric in r.metrics
    }
    if not reference:
        raise HarbenchError(
            f"--against {against!r}: no stored run of that method in the selection; methods: "
            f"{', '.join(sorted({r.method_label for r in runs}))}"
        )
    for key, row in row_of.items():
        members = grouped[key]
        pairs = [(r.metrics[metric], reference.get(config_key(r, drop=METHOD_KEYS)
                                                   + (r.fold, r.seed)))
                 for r in members if metric in r.metrics]
        pairs = [(a, b) for a, b in pairs if b is not None]
        if all(targets.is_reference(r, against) for r in members) or not pairs:
            row.update({"vs_" + against: None, "p": None, "pairs": len(pairs)})
            continue
        result = statistics.paired_test([a for a, _ in pairs], [b for _, b in pairs], test)
        row.update({"vs_" + against: result.mean_difference, "p": result.p_value,
                    "pairs": result.n_pairs})


def leaderboard(store: Store, *, metric: str = "macro_f1", by: str = "dataset,model,method",
                suite: str | None = None, **options: Any) -> tuple[list[str], list[list[Any]]]:
    """(column names, rows) of :func:`build` as lists."""
    board = build(store, metric=metric, by=by, suite=suite, **options)
    return board.columns, board.as_lists()
