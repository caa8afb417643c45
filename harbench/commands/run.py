"""`harbench run` and `harbench validate`: parse arguments, render the coordinator's events."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError

if TYPE_CHECKING:
    from rich.console import Console


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run a suite (skips runs already stored)")
    run.add_argument("suite", help="suite YAML file")
    run.add_argument("--db", help="DuckDB file (default: HARBENCH_DB or results/harbench.duckdb)")
    run.add_argument("--dry-run", action="store_true", help="print the expanded runs, run nothing")
    run.add_argument("--rerun", action="store_true", help="run again even runs already stored")
    run.add_argument("--executor", help="executor plugin (default: the suite's, else local)")
    run.add_argument("--workers", type=int, help="parallel workers for the executor")
    run.add_argument(
        "-x",
        "--executor-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an executor setting over the suite's (e.g. -x partition=gpu -x timeout_min=240)",
    )
    run.add_argument("--no-leaderboard", action="store_true", help="skip the final leaderboard")
    run.add_argument("--save-artifacts", action="store_true",
                     help="keep each run's adapter, merged model and ONNX file beside the store "
                     "(runs executed now; stored runs are skipped as usual)")
    run.set_defaults(handler=cmd_run)

    validate = subparsers.add_parser("validate", help="check a suite and print its runs")
    validate.add_argument("suite")
    validate.add_argument("--db", help="DuckDB file, to mark runs already stored")
    validate.add_argument("--format", choices=("table", "json"), default="table")
    validate.set_defaults(handler=cmd_validate)


def _print_runs(console: Console, args: argparse.Namespace) -> int:
    from harbench import coordinator  # on use: `harbench --help` stays light

    loaded, stored = coordinator.dry_run(args.suite, db=args.db)
    if getattr(args, "format", "table") == "json":
        import json

        runs = [{"run_id": spec.run_id, "dataset": spec.dataset, "model": spec.model_label,
                 "method": spec.method_label, "protocol": spec.protocol.get("name", ""),
                 "fold": spec.fold, "seed": spec.seed, "stored": spec.run_id in stored}
                for spec in loaded.specs]
        print(json.dumps({"suite": loaded.name, "runs": runs}, indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"{loaded.name}: {len(loaded.specs)} runs", title_justify="left")
    for col in ("#", "dataset", "model", "method", "protocol", "fold", "seed", "run_id", "stored"):
        table.add_column(col, overflow="fold")  # wrap, never cut a run id with an ellipsis
    for i, spec in enumerate(loaded.specs, 1):
        table.add_row(
            str(i),
            spec.dataset,
            spec.model_label,
            spec.method_label,
            spec.protocol.get("name", ""),
            str(spec.fold),
            str(spec.seed),
            spec.run_id,
            "yes" if spec.run_id in stored else "",
        )
    console.print(table)
    console.print(
        f"{len(loaded.specs)} runs, {len(stored)} already stored, "
        f"{len(loaded.specs) - len(stored)} to run"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console

    return _print_runs(Console(), args)


def executor_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as settings; values read as YAML scalars (``4`` is an int)."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise HarbenchError(f"--executor-option {pair!r}: expected KEY=VALUE, e.g. workers=4")
        options[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return options


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harbench import coordinator
    from harbench.commands.progress import ProgressView
    from harbench.commands.results import print_leaderboard

    console = Console()
    if args.dry_run:
        return _print_runs(console, args)
    with ProgressView(console) as view:
        summary = coordinator.run_suite(
            args.suite,
            db=args.db,
            rerun=args.rerun,
            executor=args.executor,
            workers=args.workers,
            options=executor_options(args.executor_option),
            sink=view,
            save_artifacts=args.save_artifacts,
        )
    console.print(
        f"{summary.suite}: {summary.ok} ok, {summary.failed} failed, {summary.skipped} already "
        f"stored (of {summary.total})"
    )
    if not args.no_leaderboard and summary.total:
        print_leaderboard(console, db=summary.db, suite=summary.suite)
    for what, error in summary.failures:
        console.print(f"[red]failed[/] {what}: {error}", markup=True)
    return summary.exit_code
