"""The local executor: one run after another in this process."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harbench.contracts import Executor, MapSession
from harbench_executors.common import call


class LocalExecutor(Executor):
    name = "local"
    description = "one run after another in this process"

    @contextlib.contextmanager
    def session(
        self,
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[MapSession]:
        """Nothing to start: the session runs each spec in this process when asked."""
        yield _LocalSession(self, workers, events, settings)


class _LocalSession(MapSession):
    def map(self, fn: Callable[..., Any], specs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        for spec in specs:
            yield spec, call(fn, spec, self.events)


PLUGINS = (LocalExecutor,)
