"""The process executor: runs in spawned worker processes, one per worker slot, kept across runs.

A worker imports torch and the plugins once and then takes runs one after another through its
pipe, for the whole suite: the pool is the session's, so the runs after a pretraining stage go to
the workers that ran it (``max_runs_per_worker: 1`` gives every run a fresh process). Memory
peaks stay per run: the runner resets the process's peak RSS and the GPU's peak counters at the
start of each run. A worker that raises or dies is replaced before the next run. Workers send
their events and then each result through the pipe. A worker stops on its own, without a
traceback, when its coordinator is gone (a watchdog thread checks the parent pid), and it
ignores Ctrl-C, which is the coordinator's to handle. With a CUDA device, workers are placed on
the visible GPUs in turn (one ``CUDA_VISIBLE_DEVICES`` entry per worker slot).
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
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from harbench.contracts import Executor, MapSession
from harbench.settings import Param
from harbench_executors.common import DEVICE, WorkerDied, call, environment

WATCHDOG_PERIOD_S = 0.5
EXIT_GRACE_S = 5.0


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


def _work(conn, parent_pid: int, with_events: bool) -> None:
    """Worker process body: run each pickled ``(fn, spec)`` that arrives on ``conn``, sending
    its events and then its outcome back; stop when the coordinator closes the pipe.

    Tasks arrive pickled so that the watchdog runs before unpickling imports the heavy modules
    the run needs (seconds on a busy machine). After an exception the worker stops: the next run
    gets a fresh process.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    threading.Thread(target=_exit_if_orphaned, args=(parent_pid,), daemon=True).start()
    emit = (lambda event: _send(conn, ("event", event))) if with_events else None
    while True:
        try:
            task = conn.recv_bytes()
        except (EOFError, OSError):  # the coordinator is done with this worker
            return
        try:
            # trusted: the bytes come over this worker's own anonymous pipe, whose other end is
            # held only by the coordinator that pickled them (as multiprocessing itself does)
            fn, spec = pickle.loads(task)
            outcome: tuple[str, Any] = ("ok", call(fn, spec, emit))
        except BaseException as exc:  # reported to the coordinator, which records the run as failed
            _send(conn, ("error", WorkerDied(f"{type(exc).__name__}: {exc}")))
            return
        _send(conn, outcome)


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
    """Around a spawn: the child inherits ``env`` and SIGINT blocked (a blocked signal mask
    survives exec, so a Ctrl-C during the worker's start-up cannot print a traceback there; the
    worker then ignores it for good). A Ctrl-C that comes during the spawn is held and raised
    here once the spawn is over, rather than lost or raised half-way through it."""
    in_main = threading.current_thread() is threading.main_thread()
    caught: list[int] = []
    if in_main:
        previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with environment(env):
            yield
    finally:
        if in_main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


@dataclass
class _Worker:
    """One worker slot's process, its end of the pipe, and the runs it has taken."""

    process: Any
    conn: Any
    runs: int = 0
    spec: Any = None  # the run in progress; None while idle

    def stop(self, grace_s: float = EXIT_GRACE_S) -> None:
        """Close the pipe, which ends an idle worker's loop, and reap it; a worker still in a
        run, or one that lingers past ``grace_s``, is killed. A clean exit lets the worker's
        multiprocessing finalisers release what it registered (semaphores of the libraries)."""
        self.conn.close()
        if self.spec is None:
            self.process.join(grace_s)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


class ProcessExecutor(Executor):
    name = "process"
    description = "runs in spawned worker processes, one per worker slot, kept across runs"
    params = {
        "device": DEVICE,
        "max_runs_per_worker": Param(
            None,
            "runs a worker process takes before it is replaced (1: a fresh process per run); "
            "null: no limit",
            kind="int",
            nullable=True,
            min=1,
        ),
    }

    @contextlib.contextmanager
    def session(
        self,
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[MapSession]:
        """A pool of worker processes kept from one map to the next; none outlives the block."""
        pool = _Pool(self, max(1, workers), events, settings or {})
        try:
            yield pool
        finally:
            pool.close()


@dataclass
class _Pool(MapSession):
    """One session's worker slots: each started when first needed and kept across maps."""

    slots: list[_Worker | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        settings = self.settings or {}
        self.device = settings.get("device") or os.environ.get("HARBENCH_DEVICE")
        self.gpus = visible_gpus() if self.device == "cuda" else []
        self.limit = settings.get("max_runs_per_worker")
        self.slots = [None] * self.workers

    def _start(self, slot: int) -> _Worker:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        args = (theirs, os.getpid(), self.events is not None)
        process = context.Process(target=_work, args=args, daemon=True)
        with _spawning(worker_env(slot, self.device, self.gpus)):
            process.start()
        theirs.close()
        return _Worker(process, ours)

    def _idle_worker(self, slot: int) -> _Worker:
        """The slot's worker, started afresh when it has none or has taken its limit of runs."""
        worker = self.slots[slot]
        if worker is None or (self.limit is not None and worker.runs >= self.limit):
            if worker is not None:
                worker.stop()
            worker = self.slots[slot] = self._start(slot)
        return worker

    def map(self, fn: Callable[..., Any], specs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield (spec, result) as the pool's workers finish; kept workers stay for the next map."""
        pending = list(specs)
        slots = self.slots
        completed = False
        try:
            while pending or any(w is not None and w.spec is not None for w in slots):
                for slot, worker in enumerate(slots):
                    if pending and (worker is None or worker.spec is None):
                        worker = self._idle_worker(slot)
                        worker.spec = pending.pop(0)
                        worker.conn.send_bytes(pickle.dumps((fn, worker.spec)))
                busy = {w.conn: slot for slot, w in enumerate(slots) if w and w.spec is not None}
                for conn in wait(list(busy)):
                    slot = busy[conn]
                    worker = slots[slot]
                    try:
                        kind, payload = conn.recv()
                    except (EOFError, OSError):
                        kind, payload = "died", None
                    if kind == "event":
                        if self.events is not None:
                            self.events(payload)
                        continue
                    spec, worker.spec = worker.spec, None
                    worker.runs += 1
                    if kind != "ok":  # a worker that raised or died is not given another run
                        worker.stop()
                        slots[slot] = None
                    if kind == "died":
                        payload = WorkerDied(
                            f"the worker process ended with exit code {worker.process.exitcode} "
                            "before returning a result"
                        )
                    yield spec, payload
            completed = True
        finally:
            if not completed:  # interrupted or abandoned: nobody wants the runs still going
                for slot, worker in enumerate(slots):
                    if worker is not None and worker.spec is not None:
                        worker.stop()
                        slots[slot] = None

    def close(self) -> None:
        """End every worker: idle ones all start their exit at once, then each is reaped."""
        live = [worker for worker in self.slots if worker is not None]
        for worker in live:
            worker.conn.close()
        for worker in live:
            worker.stop()
        self.slots = [None] * self.workers


PLUGINS = (ProcessExecutor,)
