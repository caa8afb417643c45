"""Executors: in this process, or in worker processes (a fresh spawned process per run)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait
from typing import Any

from harbench.contracts import Executor


class LocalExecutor(Executor):
    name = "local"
    description = "one run after another in this process"

    def map(
        self, fn: Callable[[Any], Any], specs: Iterable[Any], *, workers: int = 1
    ) -> Iterator[tuple[Any, Any]]:
        for spec in specs:
            yield spec, fn(spec)


class WorkerDied(RuntimeError):
    """A worker process ended without returning its run's result (crash, OOM kill, signal)."""


def _work(conn, fn: Callable[[Any], Any], spec: Any) -> None:
    try:
        conn.send(("ok", fn(spec)))
    except BaseException as exc:  # reported to the coordinator, which records the run as failed
        conn.send(("error", WorkerDied(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


class ProcessExecutor(Executor):
    name = "process"
    description = "runs in spawned worker processes, a fresh one per run (isolated memory peaks)"

    def map(
        self, fn: Callable[[Any], Any], specs: Iterable[Any], *, workers: int = 1
    ) -> Iterator[tuple[Any, Any]]:
        """Yield (spec, result); (spec, WorkerDied) when a worker ends without a result."""
        context = multiprocessing.get_context("spawn")
        pending = list(specs)
        running: dict[Any, tuple[Any, Any]] = {}  # connection -> (process, spec)
        while pending or running:
            while pending and len(running) < max(1, workers):
                spec = pending.pop(0)
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_work, args=(send, fn, spec), daemon=True)
                process.start()
                send.close()
                running[receive] = (process, spec)
            for conn in wait(list(running)):
                process, spec = running.pop(conn)
                try:
                    _status, result = conn.recv()
                except EOFError:
                    process.join()
                    result = WorkerDied(
                        f"the worker process ended with exit code {process.exitcode} "
                        "before returning a result"
                    )
                conn.close()
                process.join()
                yield spec, result


PLUGINS = (LocalExecutor, ProcessExecutor)
