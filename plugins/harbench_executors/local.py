"""Executors: in this process, or in a pool of worker processes (one fresh process per run)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
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


class ProcessExecutor(Executor):
    name = "process"
    description = "runs in worker processes (spawned, one fresh process per run)"

    def map(
        self, fn: Callable[[Any], Any], specs: Iterable[Any], *, workers: int = 1
    ) -> Iterator[tuple[Any, Any]]:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=max(1, workers), mp_context=context, max_tasks_per_child=1
        ) as pool:
            futures = {pool.submit(fn, spec): spec for spec in specs}
            for future in as_completed(futures):
                yield futures[future], future.result()


PLUGINS = (LocalExecutor, ProcessExecutor)
