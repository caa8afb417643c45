"""Figures of a stored suite: Pareto fronts, sweeps, critical-difference diagrams, learning curves
and confusion matrices. matplotlib (Agg, headless) is imported only when a figure is drawn.

Each ``*_figure`` function takes the store (and a suite) and returns a matplotlib Figure; ``save``
writes it as PNG and SVG.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report import statistics
from harbench.report.configs import config_label, resolve_key, short_key, varying_keys
from harbench.report.leaderboard import peak_memory
from harbench.report.runs import Run, load_curves, load_details, load_runs
from harbench.report.suites import check_suite
from harbench.store import Store

KINDS = ("pareto", "sweep", "cd", "curves", "confusion")
COST_AXES = {
    "params": ("trainable_params", "trainable parameters"),
    "macs": ("macs", "MACs per window"),
    "memory": ("peak_memory_mb", "peak memory (MB)"),
    "time": ("fit_seconds", "fit time (s)"),
}
METRIC_NAMES = {"macro_f1": "macro-F1", "accuracy": "accuracy", "weighted_f1": "weighted F1"}


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def metric_label(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric.replace("_", " "))


def save(figure, stem: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write ``figure`` as ``stem.png`` and ``stem.svg``; returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix("." + fmt)
        figure.savefig(path, dpi=120 if fmt == "png" else None, bbox_inches="tight")
        paths.append(path)
    return paths


def select(store: Store, suite: str | None, dataset: str | None = None,
           method: str | None = None, model: str | None = None) -> list[Run]:
    """The ok runs of ``suite`` filtered by dataset / method (name or label) / model."""
    check_suite(store, suite)
    runs = load_runs(store, suite)
    if dataset:
        runs = [r for r in runs if r.dataset == dataset]
    if method:
        runs = [r for r in runs if method in (r.method, r.method_label)]
    if model:
        runs = [r for r in runs if model in (r.model, r.model_label)]
    if not runs:
        raise HarbenchError(
            "no stored ok run matches the selection "
            f"(suite={suite!r}, dataset={dataset!r}, method={method!r}, model={model!r})"
        )
    return runs


def _varying(runs: list[Run]) -> list[str]:
    """Spec keys that tell runs of one dataset, model and method apart (budget, pretraining)."""
    return varying_keys(runs, within=lambda r: (r.dataset, r.model_label, r.method_label))


def _label_of(run: Run, keys: list[str]) -> str:
    return f"{run.method_label} {config_label(run, keys)}".strip()


def _by_dataset(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        out[run.dataset].append(run)
    return dict(sorted(out.items()))


def _grid(plt, n: int, width: float = 5.0, height: float = 4.0):
    cols = 2 if n == 4 else min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def pareto_figure(store: Store, suite: str | None = None, *, cost: str = "params",
                  metric: str = "macro_f1", dataset: str | None = None):
    """``metric`` against a cost (params, macs, memory, time) per configuration, front drawn."""
    if cost not in COST_AXES:
        raise HarbenchError(f"--x {cost!r}: use one of {', '.join(COST_AXES)}")
    cost_metric, cost_label = COST_AXES[cost]
    runs = select(store, suite, dataset)
    keys = _varying(runs)
    plt = pyplot()
    per_dataset = _by_dataset(runs)
    fig, axes = _grid(plt, len(per_dataset))
    for ax, (name, members) in zip(axes, per_dataset.items()):
        groups: dict[str, list[Run]] = defaultdict(list)
        for run in members:
            groups[_label_of(run, keys)].append(run)
        labels, points = [], []
        for label, group in sorted(groups.items()):
            xs = [peak_memory(r) if cost_metric == "peak_memory_mb" else r.metrics.get(cost_metric)
                  for r in group]
            xs = [x for x in xs if x is not None]
            ys = [r.metrics[metric] for r in group if metric in r.metrics]
            if xs and ys:
                labels.append(label)
                points.append((_mean(xs), _mean(ys)))
        if not points:
            raise HarbenchError(f"no run on {name} stores both {cost_metric} and {metric}")
        front = statistics.pareto_front(points)
        on_front = set(front)
        for i, (label, (x, y)) in enumerate(zip(labels, points)):
            ax.scatter(x, y, s=40, color="C3" if i in on_front else "C0", zorder=3)
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "--", color="C3",
                label="non-dominated front", zorder=2)
        if cost in ("params", "macs") and min(p[0] for p in points) > 0:
            ax.set_xscale("log")
        ax.set_xlabel(cost_label)
        ax.set_ylabel(metric_label(metric))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{metric_label(metric)} against {cost_label} (mean over folds and seeds)")
    fig.tight_layout()
    return fig


def sweep_figure(store: Store, suite: str | None = None, *, param: str = "r",
                 metric: str = "macro_f1", dataset: str | None = None):
    """``metric`` against a swept setting, one line per method, error bars = std over runs."""
    runs = select(store, suite, dataset)
    key = resolve_key(runs, param)
    plt = pyplot()
    per_dataset = _by_dataset(runs)
    fig, axes = _grid(plt, len(per_dataset))
    for ax, (name, members) in zip(axes, per_dataset.items()):
        lines: dict[str, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
        for run in members:
            value = run.flat_config().get(key)
            if value is None or metric not in run.metrics:
                continue
            lines[run.method][value].append(run.metrics[metric])
        if not any(len(points) > 1 for points in lines.values()):
            raise HarbenchError(f"setting {key!r} takes a single value on {name}: nothing to sweep")
        drawn = 0
        for method, points in sorted(lines.items()):
            xs = sorted(points, key=_sort_key)
            stats = [statistics.summarise(points[x]) for x in xs]
            numeric = all(isinstance(x, (int, float)) for x in xs)
            positions = xs if numeric else list(range(len(xs)))
            ax.errorbar(positions, [s.mean for s in stats], yerr=[s.std for s in stats],
                        marker="o", capsize=3, label=method)
            if not numeric:
                ax.set_xticks(positions, [str(x) for x in xs])
            drawn += 1
        if not drawn:
            raise HarbenchError(f"no run on {name} has setting {key!r} and metric {metric!r}")
        values = sorted({x for p in lines.values() for x in p if isinstance(x, (int, float))})
        if (key.endswith(".r") or key.endswith("rank")) and values and min(values) > 0:
            ax.set_xscale("log", base=2)
            ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.set_xlabel(short_key(key))
        ax.set_ylabel(metric_label(metric))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{metric_label(metric)} against {short_key(key)} "
                 "(error bars: std over folds and seeds)")
    fig.tight_layout()
    return fig


def _sort_key(value: Any) -> tuple:
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def cd_table(runs: list[Run], metric: str = "macro_f1") -> tuple[list[str], list[str],
                                                                  list[list[float]]]:
    """(datasets, configurations, mean metric table) over datasets that have every configuration."""
    keys = _varying(runs)
    several_models = len({r.model_label for r in runs}) > 1
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in runs:
        if metric in run.metrics:
            name = _label_of(run, keys)
            cells[(run.dataset, f"{run.model_label} {name}" if several_models else name)].append(
                run.metrics[metric])
    methods = sorted({m for _, m in cells})
    datasets = sorted({d for d, _ in cells})
    complete = [d for d in datasets if all((d, m) in cells for m in methods)]
    table = [[_mean(cells[(d, m)]) for m in methods] for d in complete]
    return complete, methods, table


def cd_figure(store: Store, suite: str | None = None, *, metric: str = "macro_f1",
              alpha: float = 0.05, posthoc: str = "nemenyi"):
    """Critical-difference diagram: average ranks over datasets, Friedman + post-hoc test."""
    import pandas as pd
    import scikit_posthocs as sp

    runs = select(store, suite)
    datasets, methods, table = cd_table(runs, metric)
    result = statistics.friedman_posthoc(table, methods, alpha=alpha, posthoc=posthoc)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.35 * len(methods)))
    ranks = pd.Series(result.average_ranks)
    matrix = pd.DataFrame(result.pairwise_p, index=methods, columns=methods)
    sp.critical_difference_diagram(ranks, matrix, ax=ax, alpha=alpha)
    ax.set_xlabel("average rank (1 = best)")
    ax.set_title(
        f"{metric_label(metric)} over {len(datasets)} datasets: Friedman chi2 = "
        f"{result.statistic:.2f}, p = {result.p_value:.3g}; post-hoc {posthoc} "
        f"(scikit-posthocs), alpha = {alpha:g}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def curves_figure(store: Store, suite: str | None = None, *, dataset: str | None = None,
                  method: str | None = None):
    """Per-epoch training and validation curves (and pretraining when stored), mean per method."""
    runs = select(store, suite, dataset, method)
    datasets = sorted({r.dataset for r in runs})
    if len(datasets) > 1:  # one dataset per figure keeps the lines readable
        runs = [r for r in runs if r.dataset == datasets[0]]
    curves = load_curves(store, [r.run_id for r in runs])
    keys = _varying(runs)
    stages = sorted({row["stage"] for rows in curves.values() for row in rows},
                    key=lambda s: (s != "pretrain", s))
    if not stages:
        raise HarbenchError("the selected runs store no per-epoch curves")
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    panels = [(s, "train_loss", "training loss") for s in stages]
    panels += [("train", "val_loss", "validation loss"), ("train", "val_f1", "validation macro-F1")]
    panels = [p for p in panels if p[0] in stages]
    fig, axes = _grid(plt, len(panels), width=4.5, height=3.5)
    for ax, (stage, column, label) in zip(axes, panels):
        series: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for run in runs:
            for row in curves.get(run.run_id, []):
                if row["stage"] == stage and row.get(column) is not None:
                    series[_label_of(run, keys)][row["epoch"]].append(
                        row[column])
        for name, points in sorted(series.items()):
            epochs = sorted(points)
            ax.plot(epochs, [_mean(points[e]) for e in epochs], marker=".", label=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(f"{stage}: {label}", fontsize=9)
        ax.grid(alpha=0.3)
        if series and len(series) <= 12:
            ax.legend(fontsize=6)
    fig.suptitle(f"learning curves on {datasets[0]} (mean over folds and seeds)")
    fig.tight_layout()
    return fig


def confusion_figure(store: Store, suite: str | None = None, *, dataset: str | None = None,
                     method: str | None = None, limit: int = 6):
    """Row-normalised confusion matrices (summed over folds and seeds) with class names."""
    import numpy as np

    runs = select(store, suite, dataset, method)
    details = load_details(store, [r.run_id for r in runs])
    keys = _varying(runs)
    summed: dict[str, Any] = {}
    classes: dict[str, list[str]] = {}
    for run in runs:
        d = details.get(run.run_id)
        if not d or not d.get("confusion"):
            continue
        name = f"{run.dataset} {_label_of(run, keys)}"
        matrix = np.asarray(d["confusion"], dtype=float)
        if name in summed and summed[name].shape == matrix.shape:
            summed[name] += matrix
        else:
            summed[name] = matrix
            classes[name] = d.get("classes") or [str(i) for i in range(len(matrix))]
    if not summed:
        raise HarbenchError("the selected runs store no confusion matrix")
    chosen = sorted(summed)[:limit]
    plt = pyplot()
    fig, axes = _grid(plt, len(chosen), width=5.0, height=4.5)
    for ax, name in zip(axes, chosen):
        matrix = summed[name]
        norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        ticks = range(len(classes[name]))
        ax.set_xticks(ticks, classes[name], rotation=60, ha="right", fontsize=7)
        ax.set_yticks(ticks, classes[name], fontsize=7)
        for i in ticks:
            for j in ticks:
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(name, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle("confusion matrices, rows normalised (summed over folds and seeds)")
    fig.tight_layout()
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
    return FIGURES[kind](store, suite, **options)
