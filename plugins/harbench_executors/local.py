"""The local executor: one run after another in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harbench.contracts import Executor
from harbench_executors.common import call


class LocalExecutor(Executor):
    name = "local"
    description = "one run after another in this process"

    def map(
        self,
        fn: Callable[..., Any],
        specs: Iterable[Any],
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        for spec in specs:
            yield spec, call(fn, spec, events)


PLUGINS = (LocalExecutor,)
