"""`harbench run` and `harbench validate`."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from harbench import coordinator
from harbench.commands.results import print_leaderboard


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run a suite (skips runs already stored)")
    run.add_argument("suite", help="suite YAML file")
    run.add_argument("--db", help="DuckDB file (default: HARBENCH_DB or results/harbench.duckdb)")
    run.add_argument("--dry-run", action="store_true", help="print the expanded runs, run nothing")
    run.add_argument("--rerun", action="store_true", help="run again even runs already stored")
    run.add_argument("--executor", help="executor plugin (default: the suite's, else local)")
    run.add_argument("--workers", type=int, help="parallel workers for the executor")
    run.add_argument("--no-leaderboard", action="store_true", help="skip the final leaderboard")
    run.set_defaults(handler=cmd_run)

    validate = subparsers.add_parser("validate", help="check a suite and print its runs")
    validate.add_argument("suite")
    validate.add_argument("--db", help="DuckDB file, to mark runs already stored")
    validate.set_defaults(handler=cmd_validate)


def _print_runs(console: Console, args: argparse.Namespace) -> int:
    loaded, stored = coordinator.dry_run(args.suite, db=args.db)
    table = Table(title=f"{loaded.name}: {len(loaded.specs)} runs", title_justify="left")
    for col in ("#", "dataset", "model", "method", "protocol", "fold", "seed", "run_id", "stored"):
        table.add_column(col)
    for i, spec in enumerate(loaded.specs, 1):
        table.add_row(
            str(i),
            spec.dataset,
            spec.model_label,
            spec.method_label,
            spec.protocol.get("name", ""),
            str(spec.fold),
            str(spec.seed),
            spec.run_id[:10],
            "yes" if spec.run_id in stored else "",
        )
    console.print(table)
    console.print(
        f"{len(loaded.specs)} runs, {len(stored)} already stored, "
        f"{len(loaded.specs) - len(stored)} to run"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    return _print_runs(Console(), args)


def cmd_run(args: argparse.Namespace) -> int:
    console = Console()
    if args.dry_run:
        return _print_runs(console, args)
    summary = coordinator.run_suite(
        args.suite,
        db=args.db,
        rerun=args.rerun,
        executor=args.executor,
        workers=args.workers,
        console=console,
    )
    console.print(
        f"{summary.suite}: {summary.ok} ok, {summary.failed} failed, {summary.skipped} already "
        f"stored (of {summary.total})"
    )
    if not args.no_leaderboard:
        print_leaderboard(console, db=summary.db, suite=summary.suite)
    for what, error in summary.failures:
        console.print(f"[red]failed[/] {what}: {error}", markup=True)
    return summary.exit_code
