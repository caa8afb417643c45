"""The leaderboard: one row per configuration, mean ± std over units (and on request CI and a
paired comparison with a reference: effect size, bootstrap interval, Holm-adjusted test).

Rows group by the chosen columns (dataset, model, method, ...) *and* by everything else that
distinguishes a configuration in the stored canonical spec (protocol, budget, window, pretraining,
parameters), so runs of different configurations never average together; the varying part is
shown as a short "config" label.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report import pairing, statistics, targets
from harbench.report.configs import config_key, config_label, varying_keys
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
# shown beside the score when stored: the drop in macro-F1 points on source subjects held out of
# pretraining (subject_adaptation; see harbench.forgetting)
BESIDE_METRICS = {"macro_f1": ("forgetting",)}
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
        board.notes += targets.unreliable_note(runs, metric)
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
    board.columns = (list(groups) + (["config"] if has_config else [])
                     + [metric, "std", "n", "seeds"])
    before = BEFORE_METRICS.get(metric)
    board.columns += [before] if before and any(before in r.metrics for r in runs) else []
    board.columns += [m for m in BESIDE_METRICS.get(metric, ())
                      if any(m in r.metrics for r in runs)]
    board.columns += ["not_reached"] if computed else []
    board.columns += ["ci_low", "ci_high"] if ci else []
    if against:
        _add_paired_tests(row_of, grouped, runs, metric, against, test)
        board.columns += ["vs_" + against, "diff_ci_low", "diff_ci_high", "pairs", "p", "p_holm",
                          "test_note"]
        board.notes.append(
            f"vs_{against}: mean over paired units (dataset x fold, seeds averaged first) of the "
            f"difference to '{against}', paired on every setting but the method and its own "
            f"optimisation settings; diff_ci: 95% bootstrap interval (BCa, seeded); p: two-sided "
            f"{'Wilcoxon signed-rank' if test == 'wilcoxon' else 'paired t'} test over units "
            f"(scipy), p_holm: Holm-adjusted over the {len(_tested(row_of))} rows tested "
            f"against '{against}'; no p below {statistics.MIN_UNITS_FOR_TEST} units"
        )
    board.columns += list(COST_METRICS)
    from harbench.tuning import summary as tuning_summary

    tuning_summary.annotate(store, board, grouped, row_of)  # tuned suites only
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


def _unit_values(metric: str, members: list[Run]) -> pairing.UnitValues:
    """Per-unit means of ``metric`` (seeds averaged); ratios (speed-ups) averaged on the log
    scale and returned as geometric means."""
    if metric not in targets.RATIO_METRICS:
        return pairing.unit_values(members, lambda r: r.metrics.get(metric))
    logs = pairing.unit_values(
        members, lambda r: math.log(r.metrics[metric]) if r.metrics.get(metric) else None)
    logs.means = {k: math.exp(v) for k, v in logs.means.items()}
    return logs


def _row(metric: str, members: list[Run], *, ci: bool, computed: bool
         ) -> dict[str, Any] | None:
    """Summary of ``metric`` over one configuration's units (dataset x fold, seeds averaged
    first) and mean costs over its runs; n counts units, seeds the runs per unit."""
    units = _unit_values(metric, members)
    values = list(units.means.values())
    if not values and not computed:
        return None
    summary = statistics.summarise(values, ci=ci)
    row: dict[str, Any] = {metric: summary.mean, "std": summary.std, "n": summary.n,
                           "seeds": units.seeds_text()}
    if metric in targets.RATIO_METRICS and values:
        geometric = statistics.geometric_estimate(values)
        row[metric] = geometric.value
        summary = statistics.Summary(geometric.value, summary.std, summary.n,
                                     geometric.ci_low, geometric.ci_high)
    if computed:
        row["not_reached"] = sum(1 for r in members if r.metrics.get("reached") == 0.0)
    if ci:
        row["ci_low"], row["ci_high"] = summary.ci_low, summary.ci_high
    if metric in BEFORE_METRICS:  # over the same units, seeds averaged first
        before = list(_unit_values(BEFORE_METRICS[metric], members).means.values())
        row[BEFORE_METRICS[metric]] = sum(before) / len(before) if before else None
    for beside in BESIDE_METRICS.get(metric, ()):  # over units, seeds averaged first
        found = list(_unit_values(beside, members).means.values())
        row[beside] = sum(found) / len(found) if found else None
    for cost in COST_METRICS:
        found = [peak_memory(r) if cost == "peak_memory_mb" else r.metrics.get(cost)
                 for r in members]
        found = [v for v in found if v is not None]
        row[cost] = sum(found) / len(found) if found else None
    return row


PAIRED_COLUMNS = ("diff_ci_low", "diff_ci_high", "p", "p_holm")


def _tested(row_of: dict[tuple, dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in row_of.values() if row.get("p") is not None]


def _add_paired_tests(row_of: dict[tuple, dict[str, Any]], grouped: dict[tuple, list[Run]],
                      runs: list[Run], metric: str, against: str, test: str) -> None:
    """Per row: the mean paired difference to the reference over units, its bootstrap interval,
    the number of paired units, the test's p and its Holm adjustment over the rows tested (or
    why there is none)."""
    references = [r for r in runs if targets.is_reference(r, against) and metric in r.metrics]
    if not references:
        raise HarbenchError(
            f"--against {against!r}: no stored run of that method in the selection; methods: "
            f"{', '.join(sorted({r.method_label for r in runs}))}"
        )
    for key, row in row_of.items():
        members = [r for r in grouped[key] if metric in r.metrics]
        row.update({"vs_" + against: None, "pairs": 0, "test_note": "",
                    **dict.fromkeys(PAIRED_COLUMNS)})
        if all(targets.is_reference(r, against) for r in grouped[key]):
            row["test_note"] = "the reference"
            continue
        pairs = pairing.pair_units(members, references, lambda r: r.metrics.get(metric),
                                   reference_name=f"'{against}'")
        if not pairs.n:
            row["test_note"] = "no pair: " + pairs.why_none
            continue
        result = statistics.compare_units(pairs.values, pairs.reference, test)
        partial = (f"{row['n'] - pairs.n} of {row['n']} units without a '{against}' run"
                   if pairs.n < row["n"] else "")
        row.update({"vs_" + against: result.mean_difference, "pairs": result.n_units,
                    "diff_ci_low": result.ci_low, "diff_ci_high": result.ci_high,
                    "p": result.p_value,
                    "test_note": "; ".join(t for t in (result.note, partial) if t)})
    tested = _tested(row_of)
    for row, adjusted in zip(tested, statistics.holm([row["p"] for row in tested])):
        row["p_holm"] = adjusted


def leaderboard(store: Store, *, metric: str = "macro_f1", by: str = "dataset,model,method",
                suite: str | None = None, **options: Any) -> tuple[list[str], list[list[Any]]]:
    """(column names, rows) of :func:`build` as lists."""
    board = build(store, metric=metric, by=by, suite=suite, **options)
    return board.columns, board.as_lists()
