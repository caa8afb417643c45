"""The ray executor: each run a Ray task, on a cluster or on a local one started for the suite.

Install with ``pip install harbench[ray]``. ``ray`` is imported only when a suite runs on it.
Runs ask for ``cpus`` and ``gpus`` each (fractions allowed: ``gpus: 0.5`` puts two runs on a
GPU); Ray places them and sets ``CUDA_VISIBLE_DEVICES``. Events go to an event-box actor
without waiting (a task blocked in ``ray.get`` hands its CPUs back to Ray, which would then start
another run on them: oversubscribed cores, each run slower); the coordinator collects them while
it waits. Results come back as task return values, and the coordinator stays the only writer of
the store.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harbench.contracts import Executor, HarbenchError
from harbench.settings import Param
from harbench_executors.common import DEVICE, WorkerDied, call, forwarded_env

POLL_S = 0.25


class EventBox:
    """An actor holding the tasks' events until the coordinator takes them (in sending order)."""

    def __init__(self) -> None:
        self._events: list[Any] = []

    def put(self, event: Any) -> None:
        self._events.append(event)

    def take(self) -> list[Any]:
        events, self._events = self._events, []
        return events

    def flushed(self) -> bool:
        """Answered once every event sent before it by the same caller is held."""
        return True


def _ray_task(fn: Callable[..., Any], spec: Any, env: dict[str, str], box: Any) -> Any:
    """The body of one Ray task: ``fn`` on ``spec`` with the caller's HARBENCH_* environment.

    Events are sent without waiting for the box; the one wait, at the end, makes sure they are
    all held before the result (an actor runs one caller's calls in the order they were sent).
    """
    import ray

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        if box is None:
            return call(fn, spec, None)
        result = call(fn, spec, lambda event: box.put.remote(event))
        ray.get(box.flushed.remote())
        return result
    finally:  # Ray reuses worker processes: leave the environment as found
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _lost(exc: BaseException) -> WorkerDied:
    """A short WorkerDied for a task Ray could not bring back (its first line only)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return WorkerDied(f"{type(cause).__name__}: {text[0] if text else ''}".rstrip(": "))


class RayExecutor(Executor):
    name = "ray"
    description = "each run a Ray task: on a cluster (address: auto) or a local one for the suite"
    params = {
        "address": Param(
            None,
            "Ray cluster to join ('auto': the one this machine belongs to); null: start a local "
            "one for the suite with workers x cpus CPUs",
            kind="str",
            nullable=True,
        ),
        "cpus": Param(1.0, "CPUs each run asks for (fractions allowed)", min=0, min_exclusive=True),
        "gpus": Param(0.0, "GPUs each run asks for (fractions allowed, e.g. 0.5)", min=0),
        "device": DEVICE,
    }

    def map(
        self,
        fn: Callable[..., Any],
        specs: Iterable[Any],
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """Yield (spec, result) as tasks complete; (spec, WorkerDied) for a task that was lost."""
        try:
            import ray
        except ImportError:
            raise HarbenchError(
                "executor 'ray' needs Ray: pip install 'harbench[ray]'"
            ) from None
        settings = settings or {}
        cpus, gpus = float(settings.get("cpus", 1.0)), float(settings.get("gpus", 0.0))
        device = settings.get("device") or ("cuda" if gpus > 0 else None)
        started_here = not ray.is_initialized()
        if started_here:
            _start(ray, settings.get("address"), workers, cpus)
        box = ray.remote(num_cpus=0)(EventBox).remote() if events is not None else None
        task = ray.remote(_ray_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
        env = forwarded_env(device)
        refs = {task.remote(fn, spec, env, box): spec for spec in specs}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
                _drain(ray, box, events)
                for ref in done:
                    spec = refs.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # the task or its worker failed: a failed run
                        result = _lost(exc)
                    yield spec, result
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
            if box is not None:
                ray.kill(box)
            if started_here:
                ray.shutdown()


def _start(ray: Any, address: str | None, workers: int, cpus: float) -> None:
    """Join the cluster at ``address``, or start a local one sized for ``workers`` runs."""
    common = {"log_to_driver": False, "logging_level": "ERROR"}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(num_cpus=max(1, math.ceil(workers * cpus)), include_dashboard=False, **common)


def _drain(ray: Any, box: Any, events: Callable[[Any], None] | None) -> None:
    """Pass every event the box holds on to ``events``."""
    if box is None or events is None:
        return
    for event in ray.get(box.take.remote()):
        events(event)


PLUGINS = (RayExecutor,)
