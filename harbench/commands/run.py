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
    run.add_argument("--reuse-stale", action="store_true",
                     help="keep stored runs computed by different code instead of recomputing them")
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
    validate.add_argument("suite", help="suite YAML file")
    validate.add_argument("--db", help="DuckDB file, to mark runs already stored")
    validate.add_argument("--format", choices=("table", "json"), default="table",
                          help="table (default) or json: every run with its full run id")
    validate.set_defaults(handler=cmd_validate)


def _print_runs(console: Console, args: argparse.Namespace) -> int:
    from harbench import coordinator  # on use: `harbench --help` stays light
    from harbench.staleness import of_stored

    loaded, stored = coordinator.dry_run(
        args.suite, db=args.db, executor=getattr(args, "executor", None),
        workers=getattr(args, "workers", None),
        options=executor_options(getattr(args, "executor_option", [])))
    stale = of_stored(args.db, loaded.specs, stored)
    reuse = bool(getattr(args, "reuse_stale", False))  # run --dry-run --reuse-stale
    if getattr(args, "format", "table") == "json":
        import json

        runs = [{"run_id": spec.run_id, "dataset": spec.dataset, "model": spec.model_label,
                 "method": spec.method_label, "protocol": spec.protocol.get("name", ""),
                 "fold": spec.fold, "seed": spec.seed, "stored": spec.run_id in stored,
                 "stale": spec.run_id in stale.stale}
                for spec in loaded.specs]
        print(json.dumps({"suite": loaded.name, "runs": runs, "stale": len(stale),
                          "stale_unknown": len(stale.unknown)}, indent=2))
        return 0
    from harbench.report.terminal import print_fitted

    headers = ["#", "dataset", "model", "method", "protocol", "fold", "seed", "run_id", "stored"]
    rows = [
        [str(i), spec.dataset, spec.model_label, spec.method_label, spec.protocol.get("name", ""),
         str(spec.fold), str(spec.seed), spec.run_id,
         ("stale" if spec.run_id in stale.stale else "yes") if spec.run_id in stored else ""]
        for i, spec in enumerate(loaded.specs, 1)
    ]
    # numbers and run ids are never wrapped or cut; names wrap on a narrow terminal
    numeric = [h in ("#", "fold", "seed") for h in headers]
    print_fitted(console, headers, rows, numeric=numeric, whole=("run_id", "stored"),
                 title=f"{loaded.name}: {len(loaded.specs)} runs",
                 constant=("dataset", "protocol", "fold", "seed"), droppable=("#",),
                 split_by=("dataset", "protocol"))
    console.print(
        f"{len(loaded.specs)} runs, {len(stored)} already stored, "
        f"{len(loaded.specs) - len(stored) + (0 if reuse else len(stale))} to run"
    )
    if stale:
        console.print(stale.message(reused=True if reuse else None), markup=False,
                      highlight=False)
    from harbench.data.preflight import problems

    for problem in problems(loaded.specs):  # `run` refuses these before any run
        console.print(f"warning: {problem}", markup=False, highlight=False)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from harbench.report.terminal import console

    return _print_runs(console(), args)


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
    from harbench import coordinator
    from harbench.commands.progress import ProgressView
    from harbench.commands.results import print_leaderboard
    from harbench.report.terminal import console as make_console
    from harbench.report.terminal import escaped

    console = make_console()
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
            reuse_stale=args.reuse_stale,
            save_artifacts=args.save_artifacts,
        )
    console.print(
        f"{escaped(summary.suite)}: {summary.ok} ok, {summary.failed} failed, "
        f"{summary.skipped} already stored (of {summary.total})"
    )
    if summary.pending:
        console.print(
            f"[yellow]{summary.pending} finished result(s) kept in "
            f"{escaped(summary.db)}.pending/[/]: the store was busy (a long reader holds it); "
            "the next `harbench run` on this store writes them"
        )
    if not args.no_leaderboard and summary.total:
        print_leaderboard(console, db=summary.db, suite=summary.suite)
    for what, error in summary.failures:
        console.print(f"[red]failed[/] {escaped(what)}: {escaped(error)}")
    return summary.exit_code
