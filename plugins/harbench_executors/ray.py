"""The ray executor: each run a Ray task, on a cluster or on a local one started for the suite.

Install with ``pip install harbench[ray]``. ``ray`` is imported only when a suite runs on it.
Runs ask for ``cpus`` and ``gpus`` each (fractions allowed: ``gpus: 0.5`` puts two runs on a
GPU); Ray places them and sets ``CUDA_VISIBLE_DEVICES``. A local cluster is started once per
suite (its pretraining stages and its runs) and stopped at its end.

Each task is a Ray generator: the run works in a thread of the task while the task yields its
events, then its result, back to the coordinator, which waits on all its tasks at once. Nothing
in a task waits for an answer (a task blocked in ``ray.get`` hands its CPUs back to Ray, which
would start another run on them), and no actor or polling loop takes CPU from the runs. The
coordinator stays the only writer of the store.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from harbench.contracts import Executor, HarbenchError, MapSession
from harbench.settings import Param
from harbench_executors.common import DEVICE, WorkerDied, call, environment, forwarded_env

WAIT_S = 1.0  # longest wait for the next event or result (so that Ctrl-C is seen)
_END = "end"


def _ray_task(fn: Callable[..., Any], spec: Any, env: dict[str, str],
              with_events: bool) -> Iterator[tuple[str, Any]]:
    """The body of one Ray task: ``("event", e)`` for each event ``fn`` emits, in order, then
    ``("result", fn(spec))``; ``fn`` runs with the caller's HARBENCH_* environment."""
    with environment(env):  # Ray reuses worker processes: the environment is left as found
        if not with_events:
            yield "result", call(fn, spec, None)
            return
        sent: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

        def work() -> None:
            try:
                sent.put(("result", call(fn, spec, lambda event: sent.put(("event", event)))))
            except BaseException as exc:  # raised again in the task, where Ray reports it
                sent.put((_END, exc))

        threading.Thread(target=work, name="harbench-run", daemon=True).start()
        while True:
            kind, payload = sent.get()
            if kind == _END:
                raise payload
            yield kind, payload
            if kind == "result":
                return


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

    @contextlib.contextmanager
    def session(
        self,
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[MapSession]:
        """Join the cluster (or start a local one) for the block; a local one stops with it."""
        try:
            import ray
        except ImportError:
            raise HarbenchError(
                "executor 'ray' needs Ray: pip install 'harbench[ray]'"
            ) from None
        settings = settings or {}
        started_here = not ray.is_initialized()
        if started_here:
            _start(ray, settings.get("address"), workers, float(settings.get("cpus", 1.0)))
        try:
            yield _RaySession(self, workers, events, settings)
        finally:
            if started_here:
                ray.shutdown()


@dataclass
class _RaySession(MapSession):
    """Maps runs as Ray generator tasks on the session's cluster."""

    def map(self, fn: Callable[..., Any], specs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield (spec, result) as tasks complete, passing each task's events on as they come."""
        import ray

        settings = self.settings or {}
        cpus, gpus = float(settings.get("cpus", 1.0)), float(settings.get("gpus", 0.0))
        device = settings.get("device") or ("cuda" if gpus > 0 else None)
        task = ray.remote(_ray_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
        env, with_events = forwarded_env(device), self.events is not None
        tasks = {task.remote(fn, spec, env, with_events): spec for spec in specs}
        try:
            while tasks:
                ready, _ = ray.wait(list(tasks), num_returns=1, timeout=WAIT_S)
                for generator in ready:
                    try:
                        kind, payload = ray.get(next(generator))
                    except StopIteration:  # not expected: every task yields its result or raises
                        kind, payload = "result", WorkerDied("the task ended without a result")
                    except Exception as exc:  # the task or its worker failed: a failed run
                        kind, payload = "result", _lost(exc)
                    if kind == "event":
                        if self.events is not None:
                            self.events(payload)
                        continue
                    yield tasks.pop(generator), payload
        finally:
            for generator in tasks:
                ray.cancel(generator, force=True)


def _start(ray: Any, address: str | None, workers: int, cpus: float) -> None:
    """Join the cluster at ``address``, or start a local one sized for ``workers`` runs."""
    common = {"log_to_driver": False, "logging_level": "ERROR"}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(num_cpus=max(1, math.ceil(workers * cpus)), include_dashboard=False, **common)


PLUGINS = (RayExecutor,)
