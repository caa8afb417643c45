"""Figures of a stored suite: Pareto fronts, sweeps, critical-difference diagrams, learning curves
and confusion matrices. matplotlib (Agg, headless) is imported only when a figure is drawn.

Every figure draws one mark per configuration (:func:`harbench.report.configs.configurations`:
the leaderboard's key), in one panel per dataset and protocol, and carries the numbers it draws
(``figure_data``: one row per mark with its group keys, x, y, spread and n), which ``save``
writes as a CSV beside the PNG and SVG. Points are means over folds with the seeds of a fold
averaged first (the fold is the independent unit); intervals are 95% t-intervals over folds.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report import statistics
from harbench.report.configs import (
    Configuration,
    configurations,
    facet_title,
    facets,
    resolve_key,
    short_key,
)
from harbench.report.leaderboard import peak_memory
from harbench.report.runs import Run, load_curves, load_details, load_runs
from harbench.report.suites import check_suite
from harbench.store import Store

KINDS = ("pareto", "sweep", "cd", "curves", "confusion")
COST_AXES = {
    "params": ("trainable_params", "trainable parameters"),
    "macs": ("macs", "MACs per window"),
    "memory": ("peak_memory_mb", "training peak memory (MB)"),
    "time": ("fit_seconds", "fit time (s)"),
}
METRIC_NAMES = {"macro_f1": "macro-F1", "accuracy": "accuracy", "weighted_f1": "weighted F1"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
CD_MIN_DATASETS = 5  # below this a Friedman test over datasets has next to no power
CONFUSION_LIMIT = 12
DATA_ATTRIBUTE = "harbench_data"
WARNINGS_ATTRIBUTE = "harbench_warnings"


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def metric_label(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric.replace("_", " "))


# ---- the data behind a figure -----------------------------------------------------------------


def attach(figure, rows: list[dict[str, Any]], warnings: Iterable[str] = ()) -> None:
    """Keep the drawn numbers (one dict per mark) and any warning on the figure object."""
    setattr(figure, DATA_ATTRIBUTE, rows)
    setattr(figure, WARNINGS_ATTRIBUTE, list(warnings))


def figure_data(figure) -> list[dict[str, Any]]:
    """The rows a figure drew (empty for a figure not made here)."""
    return list(getattr(figure, DATA_ATTRIBUTE, []))


def figure_warnings(figure) -> list[str]:
    """Warnings the figure carries (few datasets for a CD diagram, left-out configurations)."""
    return list(getattr(figure, WARNINGS_ATTRIBUTE, []))


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV text; the columns are every key in first-seen order."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def save(figure, stem: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write ``figure`` as ``stem.png``, ``stem.svg`` and its data as ``stem.csv``; the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix("." + fmt)
        figure.savefig(path, dpi=120 if fmt == "png" else None, bbox_inches="tight")
        paths.append(path)
    rows = figure_data(figure)
    if rows:
        path = stem.with_suffix(".csv")
        path.write_text(csv_text(rows), encoding="utf-8")
        paths.append(path)
    return paths


# ---- selection and summaries ------------------------------------------------------------------


def select(store: Store, suite: str | None, dataset: str | None = None,
           method: str | None = None, model: str | None = None,
           protocol: str | None = None) -> list[Run]:
    """The ok runs of ``suite`` filtered by dataset / method / model (name or label) / protocol."""
    check_suite(store, suite)
    runs = load_runs(store, suite)
    if dataset:
        runs = [r for r in runs if r.dataset == dataset]
    if method:
        runs = [r for r in runs if method in (r.method, r.method_label)]
    if model:
        runs = [r for r in runs if model in (r.model, r.model_label)]
    if protocol:
        runs = [r for r in runs if r.protocol == protocol]
    if not runs:
        raise HarbenchError(
            "no stored ok run matches the selection "
            f"(suite={suite!r}, dataset={dataset!r}, method={method!r}, model={model!r}, "
            f"protocol={protocol!r})"
        )
    return runs


def fold_summary(runs: list[Run], value_of) -> statistics.Summary:
    """Mean, std and 95% interval over folds of ``value_of(run)``, seeds averaged per fold."""
    per_fold: dict[Any, list[float]] = defaultdict(list)
    for run in runs:
        value = value_of(run)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            per_fold[run.fold].append(float(value))
    return statistics.summarise([sum(v) / len(v) for v in per_fold.values()], ci=True)


def _cost_of(run: Run, cost_metric: str) -> float | None:
    return peak_memory(run) if cost_metric == "peak_memory_mb" else run.metrics.get(cost_metric)


def _interval(summary: statistics.Summary) -> tuple[float, float]:
    """(below, above) error-bar lengths of the 95% interval; zero when n < 2."""
    if summary.ci_low is None or summary.ci_high is None:
        return 0.0, 0.0
    return summary.mean - summary.ci_low, summary.ci_high - summary.mean


def _grid(plt, n: int, width: float = 5.0, height: float = 4.0, cols: int | None = None):
    cols = cols or (2 if n == 4 else min(n, 3))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _styles(configs: list[Configuration]) -> tuple[dict[str, str], dict[str, str]]:
    """Colour per method label, marker per backbone label (stable over panels)."""
    methods = sorted({c.method for c in configs})
    models = sorted({c.model for c in configs})
    colours = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    markers = {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(models)}
    return colours, markers


def _single_protocol(runs: list[Run], figure: str) -> None:
    protocols = sorted({r.protocol for r in runs})
    if len(protocols) > 1:
        raise HarbenchError(
            f"the selected runs use {len(protocols)} protocols ({', '.join(protocols)}); a "
            f"{figure} compares configurations across datasets under one protocol: choose one "
            "with --protocol"
        )


# ---- Pareto -----------------------------------------------------------------------------------


def pareto_figure(store: Store, suite: str | None = None, *, cost: str = "params",
                  metric: str = "macro_f1", dataset: str | None = None,
                  protocol: str | None = None):
    """``metric`` against a cost (params, macs, memory, time): one mark per configuration per
    (dataset, protocol) panel, 95% intervals over folds, the non-dominated front drawn."""
    if cost not in COST_AXES:
        raise HarbenchError(f"--x {cost!r}: use one of {', '.join(COST_AXES)}")
    cost_metric, cost_label = COST_AXES[cost]
    runs = select(store, suite, dataset, protocol=protocol)
    configs = configurations(runs)
    panels = facets(configs)
    colours, markers = _styles(configs)
    plt = pyplot()
    fig, axes = _grid(plt, len(panels), width=7.5, height=4.5, cols=min(len(panels), 2))
    rows: list[dict[str, Any]] = []
    for ax, (facet, members) in zip(axes, panels.items()):
        drawn = []
        for c in members:
            x = fold_summary(c.runs, lambda r: _cost_of(r, cost_metric))
            y = fold_summary(c.runs, lambda r: r.metrics.get(metric))
            if x.n and y.n:
                drawn.append((c, x, y))
        if not drawn:
            raise HarbenchError(f"no run on {facet_title(facet, panels)} stores both "
                                f"{cost_metric} and {metric}")
        front = statistics.pareto_front([(x.mean, y.mean) for _, x, y in drawn])
        for i, (c, x, y) in enumerate(drawn):
            below, above = _interval(y)
            left, right = _interval(x)
            on_front = i in front
            ax.errorbar(x.mean, y.mean, yerr=[[below], [above]], xerr=[[left], [right]],
                        fmt=markers[c.model], color=colours[c.method], markersize=7,
                        markeredgecolor="black" if on_front else colours[c.method],
                        markeredgewidth=1.4 if on_front else 0.8, capsize=3, elinewidth=1,
                        zorder=3, label=f"{c.label} (n={y.n})")
            rows.append({"figure": "pareto", **c.columns(), "x_name": cost_metric, "x": x.mean,
                         "x_std": x.std, "y_name": metric, "y": y.mean, "y_std": y.std,
                         "y_ci_low": y.ci_low, "y_ci_high": y.ci_high, "n": y.n,
                         "runs": len(c.runs), "on_front": on_front})
        ax.plot([drawn[i][1].mean for i in front], [drawn[i][2].mean for i in front], "--",
                color="0.45", label="non-dominated front", zorder=2)
        if cost in ("params", "macs") and min(x.mean for _, x, _ in drawn) > 0:
            _log_axis(ax, [x.mean for _, x, _ in drawn])
        ax.margins(x=0.12, y=0.12)
        ax.set_xlabel(cost_label)
        ax.set_ylabel(metric_label(metric))
        ax.set_title(facet_title(facet, panels))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    fig.suptitle(
        f"{metric_label(metric)} against {cost_label}: mean over folds (seeds averaged within a "
        "fold), bars = 95% t-interval over folds, n = folds\ncolour = method, marker = backbone,"
        " black edge = on the non-dominated front", fontsize=9)
    fig.tight_layout()
    attach(fig, rows)
    return fig


def _log_axis(ax, values: list[float]) -> None:
    """A log x axis labelled at 1, 2, 5 x 10^k when the data span under two decades (else at
    powers of ten), with plain numbers and no minor labels to collide."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    narrow = max(values) / min(values) < 100
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


# ---- sweep ------------------------------------------------------------------------------------


def _sort_key(value: Any) -> tuple:
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def sweep_figure(store: Store, suite: str | None = None, *, param: str = "r",
                 metric: str = "macro_f1", dataset: str | None = None,
                 protocol: str | None = None):
    """``metric`` against a swept setting: one line per configuration (everything but the swept
    setting), 95% intervals over folds."""
    runs = select(store, suite, dataset, protocol=protocol)
    key = resolve_key(runs, param)
    runs = [r for r in runs if _setting(r, key) is not None]
    configs = configurations(runs, drop=(key,))
    panels = facets(configs)
    colours, markers = _styles(configs)
    plt = pyplot()
    fig, axes = _grid(plt, len(panels), width=7.0, height=4.2, cols=min(len(panels), 2))
    rows: list[dict[str, Any]] = []
    for ax, (facet, members) in zip(axes, panels.items()):
        drawn = 0
        numeric_values: set[float] = set()
        for c in members:
            by_value: dict[Any, list[Run]] = defaultdict(list)
            for run in c.runs:
                value = _setting(run, key)
                if value is not None and metric in run.metrics:
                    by_value[value].append(run)
            if len(by_value) < 2:
                continue
            xs = sorted(by_value, key=_sort_key)
            stats = [fold_summary(by_value[x], lambda r: r.metrics.get(metric)) for x in xs]
            numeric = all(isinstance(x, (int, float)) for x in xs)
            positions = xs if numeric else list(range(len(xs)))
            bars = [_interval(s) for s in stats]
            ax.errorbar(positions, [s.mean for s in stats],
                        yerr=[[b[0] for b in bars], [b[1] for b in bars]],
                        marker=markers[c.model], color=colours[c.method], capsize=3,
                        label=f"{c.label} (n={_n_text([s.n for s in stats])})")
            if numeric:
                numeric_values.update(xs)
            else:
                ax.set_xticks(positions, [str(x) for x in xs])
            for x, s in zip(xs, stats):
                rows.append({"figure": "sweep", **c.columns(), "x_name": key, "x": x,
                             "y_name": metric, "y": s.mean, "y_std": s.std,
                             "y_ci_low": s.ci_low, "y_ci_high": s.ci_high, "n": s.n,
                             "runs": len(by_value[x])})
            drawn += 1
        if not drawn:
            raise HarbenchError(f"setting {key!r} takes a single value per configuration on "
                                f"{facet_title(facet, panels)}: nothing to sweep")
        values = sorted(numeric_values)
        if (key.endswith(".r") or key.endswith("rank")) and values and min(values) > 0:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log", base=2)
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(short_key(key))
        ax.set_ylabel(metric_label(metric))
        ax.set_title(facet_title(facet, panels))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    fig.suptitle(f"{metric_label(metric)} against {short_key(key)}: mean over folds (seeds "
                 "averaged within a fold), bars = 95% t-interval over folds, n = folds",
                 fontsize=9)
    fig.tight_layout()
    attach(fig, rows)
    return fig


def _n_text(ns: list[int]) -> str:
    return str(ns[0]) if len(set(ns)) == 1 else f"{min(ns)}-{max(ns)}"


def _setting(run: Run, key: str) -> Any:
    """The run's value of ``key``, a plugin's default filling a parameter left unset."""
    value = run.flat_config().get(key)
    if value is not None:
        return value
    from harbench.report.configs import _plugin_defaults

    for params, kind, name in (("method_params.", "methods", run.method),
                               ("model_params.", "models", run.model)):
        if key.startswith(params):
            defaults = _plugin_defaults(kind, name) or {}
            return defaults.get(key[len(params):])
    return None


# ---- critical difference ----------------------------------------------------------------------


def cd_table(runs: list[Run], metric: str = "macro_f1"
             ) -> tuple[list[str], list[str], list[list[float]]]:
    """(datasets, configurations, mean metric table) over datasets that have every configuration.

    Configurations are matched across datasets by everything but the dataset; each cell is the
    mean over folds of the per-fold means over seeds.
    """
    datasets, names, table, _ = _cd_cells(runs, metric)
    return datasets, names, table


def _cd_cells(runs: list[Run], metric: str):
    drop = ("dataset", "data_fingerprint", "versions.dataset", "dataset_params")
    configs = configurations(runs, drop=drop)
    several_models = len({c.model for c in configs}) > 1
    cells: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for c in configs:
        name = f"{c.model} · {c.method} {c.settings}".strip() if several_models else \
            f"{c.method} {c.settings}".strip()
        for run in c.runs:
            if metric in run.metrics:
                cells[(run.dataset, name)].append(run)
    names = sorted({m for _, m in cells})
    every = sorted({d for d, _ in cells})
    complete = [d for d in every if all((d, m) in cells for m in names)]
    left_out = [d for d in every if d not in complete]
    table = [[fold_summary(cells[(d, m)], lambda r: r.metrics.get(metric)).mean for m in names]
             for d in complete]
    return complete, names, table, left_out


def cd_figure(store: Store, suite: str | None = None, *, metric: str = "macro_f1",
              alpha: float = 0.05, posthoc: str = "nemenyi", protocol: str | None = None):
    """Critical-difference diagram: average ranks over datasets, Friedman + post-hoc test.

    Below 5 datasets the figure carries a red warning (the test has next to no power there).
    """
    import pandas as pd
    import scikit_posthocs as sp

    runs = select(store, suite, protocol=protocol)
    _single_protocol(runs, "critical-difference diagram")
    datasets, methods, table, left_out = _cd_cells(runs, metric)
    result = statistics.friedman_posthoc(table, methods, alpha=alpha, posthoc=posthoc)
    warnings = []
    if len(datasets) < CD_MIN_DATASETS:
        warnings.append(
            f"only {len(datasets)} datasets (fewer than {CD_MIN_DATASETS}): the Friedman test "
            "has almost no power; read the ranks as descriptive, not as evidence")
    if left_out:
        warnings.append(f"left out (not every configuration ran there): {', '.join(left_out)}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 1.6 + 0.35 * len(methods) + 0.3 * len(warnings)))
    ranks = pd.Series(result.average_ranks)
    matrix = pd.DataFrame(result.pairwise_p, index=methods, columns=methods)
    sp.critical_difference_diagram(ranks, matrix, ax=ax, alpha=alpha)
    ax.set_xlabel("average rank (1 = best)")
    ax.set_title(
        f"{metric_label(metric)} over n = {len(datasets)} datasets: Friedman chi2 = "
        f"{result.statistic:.2f}, p = {result.p_value:.3g}; post-hoc {posthoc} "
        f"(scikit-posthocs), alpha = {alpha:g}",
        fontsize=9,
    )
    if warnings:
        fig.text(0.01, 0.005, "WARNING: " + "; ".join(warnings), color="#b00000", fontsize=8,
                 weight="bold", ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.06 + 0.04 * len(warnings) if warnings else 0, 1, 1))
    rows = [{"figure": "cd", "configuration": m, "x_name": "average_rank",
             "x": result.average_ranks[m], "n": len(datasets),
             **{f"{metric}@{d}": table[i][j] for i, d in enumerate(datasets)}}
            for j, m in enumerate(methods)]
    attach(fig, rows, warnings)
    return fig


# ---- learning curves --------------------------------------------------------------------------

PANELS = (("train_loss", "training loss"), ("val_loss", "validation loss"),
          ("val_f1", "validation macro-F1"))


def _carried(rows: list[dict[str, Any]], column: str, best_epoch: int | None, last: int
             ) -> dict[int, tuple[float, bool]]:
    """{epoch: (value, trained)} up to ``last``: after the run stopped, the value at its best
    epoch (the model it kept) is carried forward."""
    values = {row["epoch"]: row[column] for row in rows if row.get(column) is not None}
    if not values:
        return {}
    keep = values.get(best_epoch) if best_epoch in values else values[max(values)]
    stopped = max(values)
    out = {e: (v, True) for e, v in values.items()}
    for epoch in range(stopped + 1, last + 1):
        out[epoch] = (keep, False)
    return out


def curves_figure(store: Store, suite: str | None = None, *, dataset: str | None = None,
                  method: str | None = None, protocol: str | None = None):
    """Per-epoch curves per configuration: mean with a ±1 std band over runs, one row of panels
    per (dataset, protocol), and a panel of how many runs still trained at each epoch."""
    import numpy as np

    runs = select(store, suite, dataset, method, protocol=protocol)
    curves = load_curves(store, [r.run_id for r in runs])
    stages = sorted({row["stage"] for rows in curves.values() for row in rows},
                    key=lambda s: (s != "pretrain", s))
    if not stages:
        raise HarbenchError("the selected runs store no per-epoch curves")
    configs = configurations(runs)
    panels_of = facets(configs)
    colours, _ = _styles(configs)
    kinds = [(s, "train_loss", "training loss") for s in stages if s != "train"]
    kinds += [("train", column, label) for column, label in PANELS] if "train" in stages else []
    kinds += [("train", "n", "runs still training")] if "train" in stages else []
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    cols = len(kinds)
    fig, grid = plt.subplots(len(panels_of), cols, figsize=(4.2 * cols, 3.4 * len(panels_of)),
                             squeeze=False)
    rows_out: list[dict[str, Any]] = []
    for axes, (facet, members) in zip(grid, panels_of.items()):
        for ax, (stage, column, label) in zip(axes, kinds):
            for c in members:
                series = _config_series(c, curves, stage, "val_f1" if column == "n" else column)
                if not series:
                    continue
                epochs = sorted(series)
                if column == "n":
                    ax.step(epochs, [series[e][2] for e in epochs], where="mid",
                            color=colours[c.method], label=c.label)
                    continue
                mean = np.array([series[e][0] for e in epochs])
                std = np.array([series[e][1] for e in epochs])
                ax.plot(epochs, mean, marker=".", color=colours[c.method], label=c.label)
                ax.fill_between(epochs, mean - std, mean + std, color=colours[c.method],
                                alpha=0.15, linewidth=0)
                for e in epochs:
                    rows_out.append({"figure": "curves", "panel": f"{stage}:{column}",
                                     **c.columns(), "x_name": "epoch", "x": e, "y_name": column,
                                     "y": series[e][0], "y_std": series[e][1],
                                     "n": series[e][3], "n_training": series[e][2]})
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if column == "n":
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 1) + 0.5)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.set_title(f"{facet_title(facet, panels_of)} — {stage}: {label}", fontsize=8)
            ax.grid(alpha=0.3)
        handles, labels = axes[-1].get_legend_handles_labels()
        if handles:
            axes[-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                            fontsize=7, frameon=False)
    fig.suptitle("learning curves: mean over runs (folds × seeds), band = ±1 std; a run that "
                 "stopped early carries its best epoch's value (the model it kept) forward; "
                 "the last panel counts the runs still training", fontsize=9)
    fig.tight_layout()
    attach(fig, rows_out)
    return fig


def _config_series(c: Configuration, curves: dict[str, list[dict[str, Any]]], stage: str,
                   column: str) -> dict[int, tuple[float, float, int, int]]:
    """{epoch: (mean, std, runs still training, runs averaged)} of one configuration."""
    per_run = []
    for run in c.runs:
        rows = [row for row in curves.get(run.run_id, []) if row["stage"] == stage]
        if rows:
            per_run.append((run, rows))
    if not per_run:
        return {}
    last = max(row["epoch"] for _, rows in per_run for row in rows)
    carried = []
    for run, rows in per_run:
        best = run.metrics.get("best_epoch") if stage == "train" else None
        carried.append(_carried(rows, column, int(best) if best else None, last))
    out = {}
    for epoch in range(1, last + 1):
        values = [c[epoch] for c in carried if epoch in c]
        if not values:
            continue
        summary = statistics.summarise([v for v, _ in values])
        out[epoch] = (summary.mean, summary.std, sum(1 for _, t in values if t), len(values))
    return out


# ---- confusion --------------------------------------------------------------------------------


def confusion_figure(store: Store, suite: str | None = None, *, dataset: str | None = None,
                     method: str | None = None, protocol: str | None = None,
                     limit: int = CONFUSION_LIMIT):
    """Confusion matrices per configuration, counts summed over folds and seeds, colour = the
    row's share, each true class with its support. More than ``limit`` panels is refused."""
    import numpy as np

    runs = select(store, suite, dataset, method, protocol=protocol)
    details = load_details(store, [r.run_id for r in runs])
    configs = configurations(runs)
    every_facet = {c.facet for c in configs}
    panels: list[tuple[str, np.ndarray, list[str], int]] = []
    for c in configs:
        summed, classes, used = None, None, 0
        for run in c.runs:
            d = details.get(run.run_id)
            if not d or not d.get("confusion"):
                continue
            matrix = np.asarray(d["confusion"], dtype=float)
            if summed is None:
                summed, classes = matrix, d.get("classes") or [str(i) for i in range(len(matrix))]
            elif summed.shape == matrix.shape:
                summed = summed + matrix
            else:
                raise HarbenchError(f"{c.label} on {c.dataset}: runs store confusion matrices of "
                                    "different sizes; they cannot be summed")
            used += 1
        if summed is not None:
            title = f"{facet_title(c.facet, every_facet)}: {c.label} ({used} runs)"
            panels.append((title, summed, classes, used))
    if not panels:
        raise HarbenchError("the selected runs store no confusion matrix")
    if len(panels) > limit:
        raise HarbenchError(
            f"the selection has {len(panels)} configurations with a confusion matrix, more than "
            f"the {limit} one figure shows readably: choose with --dataset or --method")
    size = max(len(p[2]) for p in panels)
    side = max(4.5, 0.55 * size + 2.0)
    plt = pyplot()
    fig, axes = _grid(plt, len(panels), width=side + 1.0, height=side,
                      cols=min(len(panels), 2 if size > 8 else 3))
    rows: list[dict[str, Any]] = []
    for ax, (title, matrix, classes, _) in zip(axes, panels):
        support = matrix.sum(axis=1)
        norm = matrix / np.maximum(support[:, None], 1)
        image = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(ticks, [f"{name} ({int(s):,})" for name, s in zip(classes, support)],
                      fontsize=8)
        font = 8 if len(classes) <= 8 else 6.5
        for i in ticks:
            for j in ticks:
                ax.text(j, i, f"{int(matrix[i, j]):,}", ha="center", va="center", fontsize=font,
                        color="white" if norm[i, j] > 0.5 else "black")
                rows.append({"figure": "confusion", "panel": title, "true": classes[i],
                             "predicted": classes[j], "count": int(matrix[i, j]),
                             "row_share": float(norm[i, j]), "support": int(support[i])})
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class (support)")
        ax.set_title(title, fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    fig.suptitle("confusion matrices: cells = test windows summed over folds and seeds, colour ="
                 " share of the row (true class), support in brackets", fontsize=9)
    fig.tight_layout()
    attach(fig, rows)
    return fig


FIGURES = {
    "pareto": pareto_figure,
    "sweep": sweep_figure,
    "cd": cd_figure,
    "curves": curves_figure,
    "confusion": confusion_figure,
}


def figure(kind: str, store: Store, suite: str | None = None, **options: Any):
    """Draw the figure ``kind`` (one of KINDS)."""
    if kind not in FIGURES:
        raise HarbenchError(f"unknown plot {kind!r}: use one of {', '.join(KINDS)}")
    plt = pyplot()
    before = set(plt.get_fignums())
    try:
        return FIGURES[kind](store, suite, **options)
    except HarbenchError:  # a figure refused half-way is not left open
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        raise
