"""The coordinator: expands a suite, skips what is stored, maps runs, and is the only writer."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from harbench import plugins, runner, suite
from harbench.store import Store


@dataclass
class Summary:
    suite: str
    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    db: str = ""

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def run_suite(
    path: str | Path,
    *,
    db: str | Path | None = None,
    rerun: bool = False,
    executor: str | None = None,
    workers: int | None = None,
    console: Console | None = None,
) -> Summary:
    """Run every cell of the suite at ``path`` that the store does not hold yet."""
    console = console or Console(stderr=True)
    loaded = suite.load(path)
    specs = loaded.expand()
    executor_name = executor or loaded.executor.get("name", "local")
    n_workers = workers or int(loaded.executor.get("workers", 1))
    engine = plugins.get("executors", executor_name)
    if loaded.skip_missing_datasets:
        specs = _drop_missing_datasets(specs, console)
        if not specs:
            console.print(f"[yellow]{loaded.name}: none of its datasets is present; nothing to run")
            return Summary(loaded.name, 0, 0)
    with Store(db) as store:
        store.link_suite(loaded.name, [s.run_id for s in specs])
        done = set() if rerun else store.finished_ids(s.run_id for s in specs)
        pending = [s for s in specs if s.run_id not in done]
        summary = Summary(loaded.name, len(specs), len(specs) - len(pending), db=str(store.path))
        if not pending:
            console.print(
                f"[green]{loaded.name}: all {len(specs)} runs already stored[/] ({store.path})"
            )
            return summary
        console.print(
            f"[bold]{loaded.name}[/]: {len(pending)} to run, {summary.skipped} already stored, "
            f"executor {executor_name} x{n_workers}, results in {store.path}"
        )
        with _progress(console) as progress:
            overall = progress.add_task("suite", total=len(pending), info="")
            current = progress.add_task("run", total=None, info="", visible=False)

            def on_epoch(spec: suite.RunSpec, row: dict[str, float]) -> None:
                progress.update(
                    current,
                    visible=True,
                    description=spec.short(),
                    total=spec.training["epochs"],
                    completed=row["epoch"],
                    info=f"epoch {row['epoch']} val F1 {row['val_f1']:.3f}",
                )

            runner.set_epoch_listener(on_epoch)
            try:
                for spec, result in engine.map(runner.run_one, pending, workers=n_workers):
                    if isinstance(result, BaseException):
                        result = runner.failed_result(spec, f"{type(result).__name__}: {result}")
                    store.write(
                        result, labels={"model": spec.model_label, "method": spec.method_label}
                    )
                    n_done = summary.ok + summary.failed + 1
                    if result.status == "ok":
                        summary.ok += 1
                        line = (
                            f"[{n_done}/{len(pending)}] ok     {spec.short()}  "
                            f"macro-F1 {result.metrics['macro_f1']:.3f}"
                        )
                    else:
                        summary.failed += 1
                        summary.failures.append((spec.short(), result.error.splitlines()[0]))
                        line = (
                            f"[{n_done}/{len(pending)}] FAILED {spec.short()}: "
                            f"{result.error.splitlines()[0]}"
                        )
                    progress.console.print(line, markup=False, highlight=False)
                    progress.update(overall, advance=1, info=f"{summary.failed} failed")
                    if not sys.stderr.isatty():
                        sys.stderr.flush()
            finally:
                runner.set_epoch_listener(None)
    return summary


def _drop_missing_datasets(specs: list[suite.RunSpec], console: Console) -> list[suite.RunSpec]:
    """Leave out the runs of datasets whose files are not on disk, saying which and why."""
    from harbench.data.load import dataset_root

    present: dict[str, bool] = {}
    for name in dict.fromkeys(s.dataset for s in specs):
        plugin = plugins.get("datasets", name)
        root = dataset_root(plugin)
        present[name] = plugin.embedded or plugin.is_present(root)
        if not present[name]:
            console.print(
                f"[yellow]skipping dataset {name}[/]: not present in {root} "
                f"(harbench data fetch {name}, or harbench data info {name})"
            )
    return [s for s in specs if present[s.dataset]]


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def dry_run(path: str | Path, *, db: str | Path | None = None) -> tuple[suite.Suite, set[str]]:
    """The expanded suite and which of its runs are already stored (nothing is written)."""
    loaded = suite.load(path)
    stored: set[str] = set()
    db_path = Path(db) if db else None
    try:
        with Store(db_path, read_only=True) as store:
            stored = store.finished_ids(s.run_id for s in loaded.specs)
    except Exception:  # no database yet, or locked by a running suite: nothing known as stored
        stored = set()
    return loaded, stored
