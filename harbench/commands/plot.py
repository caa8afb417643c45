"""`harbench plot KIND`: Pareto front, sweep, critical-difference diagram, curves, confusion."""

from __future__ import annotations

import argparse
from pathlib import Path

from harbench.store import Store

KINDS = ("pareto", "sweep", "cd", "curves", "confusion")


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot", help="draw a figure of stored results as PNG and SVG, its numbers as CSV",
        description="pareto: metric vs cost with the non-dominated front; sweep: metric vs a "
        "swept setting (--param r); cd: critical-difference diagram over datasets (Friedman + "
        "post-hoc); curves: per-epoch training/validation (and pretraining) curves; confusion: "
        "confusion matrices with counts and support. Every figure draws one mark per "
        "configuration (dataset, backbone, method and their parameters, protocol, budget, "
        "pretraining, window), one panel per dataset and protocol, and writes the numbers it "
        "draws (one row per mark: group keys, x, y, spread, n) as a CSV beside the image.",
    )
    parser.add_argument("kind", choices=KINDS, help="the figure to draw (see above)")
    parser.add_argument("--db")
    parser.add_argument("--suite")
    parser.add_argument("--output", "-o",
                        help="output path without extension (default results/plots/<kind>)")
    parser.add_argument("--metric", default="macro_f1")
    parser.add_argument("--dataset", help="only this dataset")
    parser.add_argument("--method", help="curves/confusion: only this method (name or label)")
    parser.add_argument("--protocol",
                        help="only this protocol (cd needs one when the runs use several)")
    parser.add_argument("--x", dest="cost", default="params",
                        choices=("params", "macs", "memory", "time"), help="pareto: the cost axis")
    parser.add_argument("--param", default="r",
                        help="sweep: the swept setting (r, budget.per_class, or a full key)")
    parser.add_argument("--alpha", type=float, default=0.05, help="cd: significance level")
    parser.add_argument("--posthoc", choices=("nemenyi", "conover"), default="nemenyi",
                        help="cd: post-hoc test after Friedman's (default nemenyi)")
    parser.set_defaults(handler=cmd_plot)


def options_for(args: argparse.Namespace) -> dict:
    """The keyword options of the chosen figure."""
    kind = args.kind
    protocol = {"protocol": getattr(args, "protocol", None)}
    if kind == "pareto":
        return {"cost": args.cost, "metric": args.metric, "dataset": args.dataset, **protocol}
    if kind == "sweep":
        return {"param": args.param, "metric": args.metric, "dataset": args.dataset, **protocol}
    if kind == "cd":
        return {"metric": args.metric, "alpha": args.alpha, "posthoc": args.posthoc, **protocol}
    return {"dataset": args.dataset, "method": args.method, **protocol}


def cmd_plot(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from harbench.commands.suggest import check_stored
    from harbench.report import plots

    stem = Path(args.output) if args.output else Path("results") / "plots" / args.kind
    if stem.suffix in (".png", ".svg"):
        stem = stem.with_suffix("")
    with Store(args.db, read_only=True) as store:
        check_stored(store, dataset=args.dataset, method=args.method, metric=args.metric)
        figure = plots.figure(args.kind, store, args.suite, **options_for(args))
    paths = plots.save(figure, stem)
    console = Console(highlight=False)
    for warning in plots.figure_warnings(figure):
        console.print(f"[bold red]warning:[/] {escape(warning)}")
    console.print("wrote " + escape(", ".join(str(p) for p in paths)))
    return 0
