"""`harbench models`: the registered backbones; with ``--count``, their parameters and MACs for
every registered dataset's window shape, and the mean TinyHAR / TinierHAR ratios."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from statistics import mean
from typing import TYPE_CHECKING

from rich.text import Text

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.report.terminal import as_text, fits, print_fitted
from harbench.report.terminal import console as make_console

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

RATIO = ("tinyhar", "tinierhar")  # numerator, denominator of the reported mean ratios


@dataclass(frozen=True)
class Shape:
    dataset: str
    channels: int
    window: int  # samples
    classes: int
    demo: bool  # embedded demo/test data, not one of the benchmark datasets


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list backbones; --count: parameters and MACs for every dataset shape"
    )
    parser.add_argument("--count", action="store_true",
                        help="count parameters and MACs (one window) per dataset shape")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help="only this model (repeatable)")
    parser.add_argument("--dataset", action="append", dest="datasets", metavar="NAME",
                        help="only this dataset (repeatable)")
    parser.add_argument("--exact", action="store_true", help="print exact integers")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default; full names when piped) or json")
    parser.set_defaults(handler=cmd_models)


def dataset_shapes(names: list[str] | None = None) -> list[Shape]:
    """(channels, window samples, classes) of the registered datasets at their default window."""
    from harbench.data.load import window_samples

    registry = plugins.registry()
    chosen = names or registry.names("datasets")
    shapes = []
    for name in chosen:
        plugin = registry.get("datasets", name)
        window, _ = window_samples(plugin, None, None)
        shapes.append(Shape(name, len(plugin.channels), window, len(plugin.classes),
                            bool(plugin.embedded)))
    return sorted(shapes, key=lambda s: (s.demo, s.dataset))


def count_all(models: list[str], shapes: list[Shape], progress: Progress | None = None
              ) -> dict[tuple[str, str], dict[str, int] | str]:
    """{(model, dataset): {"params", "macs"}} or the error text where a model refuses a shape."""
    from harbench import blocks

    task = progress.add_task("counting", total=len(models) * len(shapes)) if progress else None
    out: dict[tuple[str, str], dict[str, int] | str] = {}
    for shape in shapes:
        for name in models:
            try:
                model = blocks.build_model(name, channels=shape.channels, window=shape.window,
                                        classes=shape.classes)
                counted = blocks.count(model, window=shape.window, channels=shape.channels)
                out[(name, shape.dataset)] = {"params": counted["params"],
                                              "macs": counted["macs"]}
            except HarbenchError as exc:
                out[(name, shape.dataset)] = str(exc)
            if progress is not None:
                progress.advance(task)
    return out


def mean_ratios(counts: dict[tuple[str, str], dict[str, int] | str], shapes: list[Shape],
                numerator: str = RATIO[0], denominator: str = RATIO[1]
                ) -> dict[str, float] | None:
    """Mean over the benchmark (non-demo) shapes of numerator/denominator params and MACs."""
    pairs = [(counts.get((numerator, s.dataset)), counts.get((denominator, s.dataset)))
             for s in shapes if not s.demo]
    pairs = [(a, b) for a, b in pairs if isinstance(a, dict) and isinstance(b, dict)]
    if not pairs:
        return None
    return {
        "params": mean(a["params"] / b["params"] for a, b in pairs),
        "macs": mean(a["macs"] / b["macs"] for a, b in pairs),
        "datasets": len(pairs),
    }


def models_record(models: list[str]) -> list[dict]:
    """Each model's description, defaults, head and adapter targets (the JSON output)."""
    registry = plugins.registry()
    out = []
    for name in models:
        plugin = registry.get("models", name)
        out.append({"model": name, "description": plugin.description,
                    "defaults": dict(plugin.defaults), "head": plugin.head,
                    "adapter_targets": list(plugin.targets.get("adapter", ()))})
    return out


def counts_record(models: list[str], shapes: list[Shape], counts) -> dict:
    """Parameters and MACs per (model, dataset shape) plus the mean ratios, as plain data."""
    rows = []
    for shape in shapes:
        for name in models:
            value = counts[(name, shape.dataset)]
            rows.append({"model": name, "dataset": shape.dataset, "channels": shape.channels,
                         "window": shape.window, "classes": shape.classes, "demo": shape.demo,
                         **({"error": value} if isinstance(value, str) else value)})
    return {"counts": rows, "mean_ratio": mean_ratios(counts, shapes),
            "ratio": {"numerator": RATIO[0], "denominator": RATIO[1]}}


def _human(n: int, exact: bool) -> str:
    if exact:
        return f"{n:,}"
    text = str(n)
    for unit, size in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        rounded = float(f"{n / size:.3g}")
        if rounded >= 1:  # 999,584 -> "1M", not "1e+03k"
            text = f"{rounded:g}{unit}"
    return text


def _print_list(console: Console) -> None:
    registry = plugins.registry()
    rows = []
    for name in registry.names("models"):
        plugin = registry.get("models", name)
        defaults = ", ".join(f"{k}={v}" for k, v in plugin.defaults.items())
        adapter = ", ".join(plugin.targets.get("adapter", ())) or "-"
        rows.append([name, plugin.description, defaults, plugin.head, adapter])
    print_fitted(console, ["model", "description", "defaults", "head", "adapter targets"], rows,
                 numeric=[False] * 5, title="harbench models")


def _print_counts(console: Console, models: list[str], shapes: list[Shape], counts,
                  exact: bool) -> list[str]:
    """The parameters / MACs table; returns the models left out to fit the terminal."""
    headers = ["dataset", "C x T -> K", *models]
    rows: list[list] = []
    for shape in shapes:
        cells: list = []
        for name in models:
            value = counts[(name, shape.dataset)]
            if isinstance(value, str):
                cells.append(Text("n/a", style="dim"))
            else:
                cells.append(f"{_human(value['params'], exact)} / {_human(value['macs'], exact)}")
        label = as_text(shape.dataset)
        if shape.demo:
            label.append(" (demo)", style="dim")
        rows.append([label, f"{shape.channels} x {shape.window} -> {shape.classes}", *cells])
    title = ("parameters / MACs for one window (convs, linears, attention matmuls, recurrent "
             "cells; element-wise work not counted)")
    numeric = [False] + [True] * (len(headers) - 1)
    if fits(console, headers, rows, numeric):
        return print_fitted(console, headers, rows, numeric=numeric, title=title)
    # too wide for this terminal with one column per model: one row per (dataset, model)
    long = [[row[0], row[1], name, *_split(row[2 + i])] for row in rows
            for i, name in enumerate(models)]
    return print_fitted(console, ["dataset", "C x T -> K", "model", "params", "MACs"], long,
                        numeric=[False, False, False, True, True], title=title)


def _split(cell: str | Text) -> list[str | Text]:
    """'7.48k / 500k' -> ['7.48k', '500k']; a refusal stays one dim 'n/a' in each."""
    if isinstance(cell, Text):
        return [cell, cell]
    params, _, macs = cell.partition(" / ")
    return [params, macs]


def cmd_models(args: argparse.Namespace) -> int:
    console = make_console()
    registry = plugins.registry()
    models = args.models or registry.names("models")
    for name in models:
        registry.get("models", name)  # did-you-mean error for a typo
    if not args.count:
        if args.format == "json":
            print(json.dumps(models_record(models), indent=2, default=str))
            return 0
        _print_list(console)
        return 0
    shapes = dataset_shapes(args.datasets)
    if not shapes:
        raise HarbenchError("no dataset is registered: nothing to count")
    if args.format == "json":
        counts = count_all(models, shapes)
        print(json.dumps(counts_record(models, shapes, counts), indent=2))
        return 0
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        counts = count_all(models, shapes, progress)
    _print_counts(console, models, shapes, counts, args.exact)
    refused = {k: v for k, v in counts.items() if isinstance(v, str)}
    for (name, dataset), error in refused.items():
        console.print(as_text(f"{name} on {dataset}: {error}", "dim"))
    ratios = mean_ratios(counts, shapes)
    if ratios is not None:
        console.print(
            f"mean {RATIO[0]}/{RATIO[1]} over {ratios['datasets']} benchmark datasets: "
            f"parameters {ratios['params']:.2f}x, MACs {ratios['macs']:.2f}x"
        )
    return 0
