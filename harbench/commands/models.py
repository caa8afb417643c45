"""`harbench models`: the registered backbones; with ``--count``, their parameters and MACs for
every registered dataset's window shape, and the mean TinyHAR / TinierHAR ratios."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from statistics import mean
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from harbench import plugins
from harbench.contracts import HarbenchError

if TYPE_CHECKING:
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
    parser.add_argument("--format", choices=("table", "json"), default="table")
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


def _list_table() -> Table:
    registry = plugins.registry()
    table = Table(title="harbench models", title_justify="left")
    for col in ("model", "description", "defaults", "head", "adapter targets"):
        table.add_column(col, overflow="fold")
    for name in registry.names("models"):
        plugin = registry.get("models", name)
        defaults = ", ".join(f"{k}={v}" for k, v in plugin.defaults.items())
        adapter = ", ".join(plugin.targets.get("adapter", ())) or "-"
        table.add_row(name, plugin.description, defaults, plugin.head, adapter)
    return table


def _count_table(models: list[str], shapes: list[Shape], counts, exact: bool) -> Table:
    table = Table(title="parameters / MACs for one window (convs, linears, attention matmuls, "
                        "recurrent cells; element-wise work not counted)", title_justify="left")
    table.add_column("dataset")
    table.add_column("C x T -> K")
    for name in models:
        table.add_column(name, justify="right")
    demo_started = False
    for shape in shapes:
        if shape.demo and not demo_started:
            table.add_section()
            demo_started = True
        cells = []
        for name in models:
            value = counts[(name, shape.dataset)]
            if isinstance(value, str):
                cells.append("[dim]n/a[/]")
            else:
                cells.append(f"{_human(value['params'], exact)} / {_human(value['macs'], exact)}")
        label = f"{shape.dataset} [dim](demo)[/]" if shape.demo else shape.dataset
        table.add_row(label, f"{shape.channels} x {shape.window} -> {shape.classes}", *cells)
    return table


def cmd_models(args: argparse.Namespace) -> int:
    console = Console()
    registry = plugins.registry()
    models = args.models or registry.names("models")
    for name in models:
        registry.get("models", name)  # did-you-mean error for a typo
    if not args.count:
        if args.format == "json":
            print(json.dumps(models_record(models), indent=2, default=str))
            return 0
        console.print(_list_table())
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
    console.print(_count_table(models, shapes, counts, args.exact))
    refused = {k: v for k, v in counts.items() if isinstance(v, str)}
    for (name, dataset), error in refused.items():
        console.print(f"[dim]{name} on {dataset}: {error}[/]")
    ratios = mean_ratios(counts, shapes)
    if ratios is not None:
        console.print(
            f"mean {RATIO[0]}/{RATIO[1]} over {ratios['datasets']} benchmark datasets: "
            f"parameters {ratios['params']:.2f}x, MACs {ratios['macs']:.2f}x"
        )
    return 0
