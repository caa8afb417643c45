"""The process executor: each run in a freshly spawned worker process (isolated memory peaks).

Workers send their events and finally their result through a pipe. A worker stops on its own,
without a traceback, when its coordinator is gone (a watchdog thread checks the parent pid), and
it ignores Ctrl-C, which is the coordinator's to handle. With a CUDA device, workers are placed
on the visible GPUs in turn (one ``CUDA_VISIBLE_DEVICES`` entry per worker slot).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait
from typing import Any

from harbench.contracts import Executor
from harbench_executors.common import DEVICE, WorkerDied, call

WATCHDOG_PERIOD_S = 0.5


def _exit_if_orphaned(parent_pid: int) -> None:
    """Watchdog loop: end this worker at once when the process that started it is gone."""
    while True:
        time.sleep(WATCHDOG_PERIOD_S)
        if os.getppid() != parent_pid:
            os._exit(1)


def _send(conn, message: tuple[str, Any]) -> None:
    try:
        conn.send(message)
    except OSError:  # the coordinator is gone: nobody is left to tell
        os._exit(1)


def _work(conn, task: bytes, parent_pid: int, with_events: bool) -> None:
    """Worker process body: run the pickled ``(fn, spec)``; events and the outcome go to ``conn``.

    The task arrives pickled so that the watchdog runs before unpickling imports the heavy
    modules the run needs (seconds on a busy machine).
    """
    threading.Thread(target=_exit_if_orphaned, args=(parent_pid,), daemon=True).start()
    emit = (lambda event: _send(conn, ("event", event))) if with_events else None
    try:
        fn, spec = pickle.loads(task)
        outcome: tuple[str, Any] = ("ok", call(fn, spec, emit))
    except BaseException as exc:  # reported to the coordinator, which records the run as failed
        outcome = ("error", WorkerDied(f"{type(exc).__name__}: {exc}"))
    _send(conn, outcome)
    conn.close()


def visible_gpus() -> list[str]:
    """The GPUs workers may use: ``CUDA_VISIBLE_DEVICES`` when set, else those NVML counts."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [g.strip() for g in given.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no NVIDIA driver: no GPU to place workers on
        return []


def worker_env(slot: int, device: str | None, gpus: list[str]) -> dict[str, str]:
    """Environment of the worker in ``slot``: its device, and its GPU when the device is cuda."""
    if not device:
        return {}
    env = {"HARBENCH_DEVICE": device}
    if device == "cuda" and gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    return env


@contextlib.contextmanager
def _spawning(env: dict[str, str]):
    """Around a spawn: the child inherits ``env`` and ignores SIGINT (ignored signals survive
    exec, so a Ctrl-C during the worker's start-up cannot print a traceback there)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
    try:
        yield
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ProcessExecutor(Executor):
    name = "process"
    description = "runs in spawned worker processes, a fresh one per run (isolated memory peaks)"
    params = {"device": DEVICE}

    def map(
        self,
        fn: Callable[..., Any],
        specs: Iterable[Any],
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """Yield (spec, result); (spec, WorkerDied) when a worker ends without a result."""
        context = multiprocessing.get_context("spawn")
        device = (settings or {}).get("device") or os.environ.get("HARBENCH_DEVICE")
        gpus = visible_gpus() if device == "cuda" else []
        pending = list(specs)
        running: dict[Any, tuple[Any, Any, int]] = {}  # connection -> (process, spec, slot)
        free_slots = list(range(max(1, workers)))
        try:
            while pending or running:
                while pending and free_slots:
                    spec, slot = pending.pop(0), free_slots.pop(0)
                    receive, send = context.Pipe(duplex=False)
                    task = pickle.dumps((fn, spec))
                    args = (send, task, os.getpid(), events is not None)
                    process = context.Process(target=_work, args=args, daemon=True)
                    with _spawning(worker_env(slot, device, gpus)):
                        process.start()
                    send.close()
                    running[receive] = (process, spec, slot)
                for conn in wait(list(running)):
                    try:
                        kind, payload = conn.recv()
                    except EOFError:
                        kind, payload = "died", None
                    if kind == "event":
                        if events is not None:
                            events(payload)
                        continue
                    process, spec, slot = running.pop(conn)
                    conn.close()
                    process.join()
                    free_slots.append(slot)
                    if kind == "died":
                        payload = WorkerDied(
                            f"the worker process ended with exit code {process.exitcode} "
                            "before returning a result"
                        )
                    yield spec, payload
        finally:  # interrupted or abandoned: no worker outlives the map
            for process, _spec, _slot in running.values():
                process.kill()
                process.join()


PLUGINS = (ProcessExecutor,)
