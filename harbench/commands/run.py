"""`harbench run` and `harbench validate`: parse arguments, render the coordinator's events."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from harbench import events as ev
from harbench.commands.results import print_leaderboard
from harbench.contracts import HarbenchError


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
    from harbench import coordinator

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


def eta_seconds(elapsed: float, done: int, total: int) -> float | None:
    """Seconds left if the remaining runs take as long as the finished ones did (None: no data)."""
    if done <= 0 or elapsed <= 0:
        return None
    return elapsed / done * max(0, total - done)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class ProgressView:
    """An event sink that renders a suite: its bar with an ETA, and one line per run in flight."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.suite_task: Any = None
        self.lines: dict[str, Any] = {}  # run id or stage key -> progress task
        self.started = time.perf_counter()
        self.failed = 0

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def _print(self, text: str, markup: bool = False) -> None:
        self.progress.console.print(text, markup=markup, highlight=False)

    def __call__(self, event: Any) -> None:
        handler = getattr(self, f"on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def on_SuiteStarted(self, e: ev.SuiteStarted) -> None:  # noqa: N802 (named after the event)
        if not e.pending:
            self._print(f"[green]{e.suite}: all {e.total} runs already stored[/] ({e.db})", True)
            return
        stages = f", {e.stages} pretraining stage(s)" if e.stages else ""
        self._print(
            f"[bold]{e.suite}[/]: {e.pending} to run, {e.skipped} already stored{stages}, "
            f"executor {e.executor} x{e.workers}, results in {e.db}",
            True,
        )
        self.started = time.perf_counter()
        self.suite_task = self.progress.add_task("suite", total=e.pending, info="ETA -")

    def on_DatasetSkipped(self, e: ev.DatasetSkipped) -> None:  # noqa: N802
        self._print(f"[yellow]skipping dataset {e.dataset}[/]: {e.reason}", True)

    def on_StageStarted(self, e: ev.StageStarted) -> None:  # noqa: N802
        self.lines[e.key] = self.progress.add_task(e.label, total=None, info="pretraining")

    def on_StageFinished(self, e: ev.StageFinished) -> None:  # noqa: N802
        self._drop(e.key)
        if e.status == "ok":
            self._print(f"stage ok     {e.label} ({e.seconds:.0f} s)")
        else:
            self._print(f"stage FAILED {e.label}: {e.error}")

    def on_RunStarted(self, e: ev.RunStarted) -> None:  # noqa: N802
        self.lines[e.run_id] = self.progress.add_task(e.label, total=e.epochs or None, info="")

    def on_EpochEnded(self, e: ev.EpochEnded) -> None:  # noqa: N802
        task = self.lines.get(e.run_id)
        if task is not None:
            info = f"loss {e.train_loss:.3f} val F1 {e.val_f1:.3f}"
            self.progress.update(task, completed=e.epoch, info=info)

    def on_RunFinished(self, e: ev.RunFinished) -> None:  # noqa: N802
        self._drop(e.run_id)
        if e.status == "ok":
            self._print(f"[{e.done}/{e.pending}] ok     {e.label}  macro-F1 {e.macro_f1:.3f}")
        else:
            self.failed += 1
            self._print(f"[{e.done}/{e.pending}] FAILED {e.label}: {e.error}")
        if self.suite_task is not None:
            left = eta_seconds(time.perf_counter() - self.started, e.done, e.pending)
            failed = f"{self.failed} failed, " if self.failed else ""
            info = f"{failed}ETA {_duration(left)}"
            self.progress.update(self.suite_task, completed=e.done, info=info)

    def _drop(self, key: str) -> None:
        task = self.lines.pop(key, None)
        if task is not None:
            self.progress.remove_task(task)
