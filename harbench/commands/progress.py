"""The terminal view of a running suite: renders the coordinator's events (harbench.events).

The suite's bar with an ETA from the runs finished so far, and one line per run in flight.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from harbench import events as ev
from harbench.report.terminal import escaped, shown


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
        """One line; with ``markup``, every stored value in ``text`` is already escaped()."""
        self.progress.console.print(text if markup else shown(text), markup=markup,
                                    highlight=False, emoji=False)

    def __call__(self, event: Any) -> None:
        handler = getattr(self, f"on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def on_SuiteStarted(self, e: ev.SuiteStarted) -> None:  # noqa: N802 (named after the event)
        if not e.pending:
            self._print(f"[green]{escaped(e.suite)}: all {e.total} runs already stored[/] "
                        f"({escaped(e.db)})", True)
            return
        stages = f", {e.stages} pretraining stage(s)" if e.stages else ""
        self._print(
            f"[bold]{escaped(e.suite)}[/]: {e.pending} to run, {e.skipped} already stored{stages}, "
            f"executor {escaped(e.executor)} x{e.workers}, results in {escaped(e.db)}",
            True,
        )
        self.started = time.perf_counter()
        self.suite_task = self.progress.add_task("suite", total=e.pending, info="ETA -")

    def on_DatasetSkipped(self, e: ev.DatasetSkipped) -> None:  # noqa: N802
        self._print(f"[yellow]skipping dataset {escaped(e.dataset)}[/]: {escaped(e.reason)}",
                    True)

    def on_StaleRuns(self, e: ev.StaleRuns) -> None:  # noqa: N802
        self._print(f"[yellow]{e.message}[/]", True)

    def on_TrialFinished(self, e: ev.TrialFinished) -> None:  # noqa: N802
        score = f"val F1 {e.value:.3f}" if e.value is not None else e.error.splitlines()[0] \
            if e.error else ""
        self._print(f"trial {e.number + 1}/{e.trials} {e.state:<9} {e.label} "
                    f"[{e.study[:8]}] {e.params}  {score} ({e.seconds:.1f} s)")

    def on_StageStarted(self, e: ev.StageStarted) -> None:  # noqa: N802
        self.lines[e.key] = self.progress.add_task(escaped(e.label), total=None,
                                                   info="pretraining")

    def on_StageFinished(self, e: ev.StageFinished) -> None:  # noqa: N802
        self._drop(e.key)
        if e.status == "ok":
            self._print(f"stage ok     {e.label} ({e.seconds:.0f} s)")
        else:
            self._print(f"stage FAILED {e.label}: {e.error}")

    def on_RunStarted(self, e: ev.RunStarted) -> None:  # noqa: N802
        self.lines[e.run_id] = self.progress.add_task(escaped(e.label), total=e.epochs or None,
                                                      info="")

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
