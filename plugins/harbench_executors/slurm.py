"""The slurm executor: runs as Slurm job arrays through submitit; results come back as files.

Install with ``pip install harbench[slurm]``. ``submitit`` is imported only when a suite runs on
it. Each job writes its run's result as a JSON file (and its events as JSON lines) in the batch
folder; the coordinator reads each file, stores the run and deletes the file. submitit's own
pickles are never read back. ``cluster: local`` runs the same jobs through submitit's local
executor (no Slurm needed), which is how the tests run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harbench.contracts import Executor, HarbenchError, MapSession
from harbench.settings import Param
from harbench_executors.common import DEVICE, WorkerDied, call, decode, encode, forwarded_env


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars as numbers, anything else as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def _write_json(path: Path, payload: Any) -> None:
    """Write ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, default=_plain))
    os.replace(tmp, path)


def _slurm_job(fn: Callable[..., Any], spec: Any, result: str, events: str | None,
               env: dict[str, str]) -> None:
    """The body of one array job: run ``fn``, append events to ``events``, write ``result``."""
    from harbench.events import to_dict

    os.environ.update(env)  # the submitter's HARBENCH_* settings and device

    def emit(event: Any) -> None:
        with open(events, "a") as out:  # type: ignore[arg-type]
            out.write(json.dumps(to_dict(event), default=_plain) + "\n")

    try:
        payload = {"ok": True, "value": encode(call(fn, spec, emit if events else None))}
    except BaseException as exc:  # reported to the coordinator, which stores a failed run
        payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    _write_json(Path(result), payload)


class _Tail:
    """Reads the complete lines appended to a file since the last call."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return complete.decode().splitlines()


class SlurmExecutor(Executor):
    name = "slurm"
    description = "runs as Slurm job arrays through submitit (cluster: local runs them here)"
    params = {
        "folder": Param(
            None,
            "folder for job logs and result files, on a file system the nodes share; "
            "null: <HARBENCH_CACHE>/slurm",
            kind="str",
            nullable=True,
        ),
        "partition": Param(None, "Slurm partition; null: the cluster's default", kind="str",
                           nullable=True),
        "timeout_min": Param(120, "time limit of each job, minutes", min=1),
        "gpus_per_node": Param(0, "GPUs each job asks for", min=0),
        "cpus_per_task": Param(1, "CPUs each job asks for", min=1),
        "mem_gb": Param(None, "memory each job asks for, GB; null: the partition's default",
                        kind="float", nullable=True, min=0, min_exclusive=True),
        "cluster": Param(
            "auto",
            "slurm, local (submitit's local executor: jobs run on this machine) or auto "
            "(slurm where sbatch exists, else local)",
            choices=("auto", "slurm", "local"),
        ),
        "poll_s": Param(1.0, "seconds between checks for finished jobs", min=0.05),
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
        """Nothing is held between maps: each map submits its own job arrays."""
        yield _SlurmSession(self, workers, events, settings)


class _SlurmSession(MapSession):
    def map(self, fn: Callable[..., Any], specs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield (spec, result) as jobs finish; (spec, WorkerDied) for a job without a result."""
        settings, workers, events = self.settings or {}, self.workers, self.events
        batch = _batch_folder(settings.get("folder"))
        executor = _executor(batch, settings, workers)
        whole_arrays = executor.cluster == "slurm"  # Slurm throttles; locally we keep the pace
        gpus = int(settings.get("gpus_per_node", 0))
        env = forwarded_env(settings.get("device") or ("cuda" if gpus else None))
        waiting = list(enumerate(specs))
        in_flight: dict[int, tuple[Any, Any, _Tail]] = {}
        failed = False
        try:
            while waiting or in_flight:
                free = len(waiting) if whole_arrays else max(1, workers) - len(in_flight)
                if waiting and free > 0:
                    chosen, waiting = waiting[:free], waiting[free:]
                    in_flight.update(_submit(executor, fn, chosen, batch, events is not None,
                                             env))
                time.sleep(float(settings.get("poll_s", 1.0)))
                for index in list(in_flight):
                    job, spec, tail = in_flight[index]
                    result = _collect(batch, index, job)  # jobs write events before results
                    if events is not None:
                        _relay(tail, events)
                    if result is not None:
                        tail.path.unlink(missing_ok=True)
                        del in_flight[index]
                        failed = failed or isinstance(result, WorkerDied)
                        yield spec, result
        finally:
            for job, _spec, _tail in in_flight.values():
                job.cancel(check=False)
            if not failed and not in_flight:
                shutil.rmtree(batch, ignore_errors=True)


def _relay(tail: _Tail, events: Callable[[Any], None]) -> None:
    """Pass the events a job appended since the last look on to ``events``."""
    from harbench.events import from_dict

    for line in tail.new_lines():
        events(from_dict(json.loads(line)))


def _batch_folder(folder: str | None) -> Path:
    """A fresh folder for one map call: results/, events/ and submitit's jobs/."""
    if folder:
        base = Path(folder).expanduser()
    else:
        from harbench.data.cache import default_cache_dir

        base = default_cache_dir() / "slurm"
    batch = base / f"batch-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for sub in ("results", "events"):
        (batch / sub).mkdir(parents=True, exist_ok=True)
    return batch


def _executor(batch: Path, settings: dict[str, Any], workers: int) -> Any:
    """A submitit executor for the suite's settings."""
    try:
        import submitit
    except ImportError:
        raise HarbenchError(
            "executor 'slurm' needs submitit: pip install 'harbench[slurm]'"
        ) from None
    cluster = settings.get("cluster", "auto")
    executor = submitit.AutoExecutor(
        folder=batch / "jobs" / "%j", cluster=None if cluster == "auto" else cluster
    )
    params: dict[str, Any] = {
        "name": "harbench",
        "timeout_min": int(settings.get("timeout_min", 120)),
        "cpus_per_task": int(settings.get("cpus_per_task", 1)),
        "gpus_per_node": int(settings.get("gpus_per_node", 0)),
        "slurm_array_parallelism": max(1, workers),
    }
    if settings.get("partition"):
        params["slurm_partition"] = settings["partition"]
    if settings.get("mem_gb"):
        params["mem_gb"] = settings["mem_gb"]
    executor.update_parameters(**params)
    return executor


def _submit(executor: Any, fn: Callable[..., Any], chosen: list[tuple[int, Any]], batch: Path,
            with_events: bool, env: dict[str, str]) -> dict[int, tuple[Any, Any, _Tail]]:
    """Submit ``chosen`` (index, spec) pairs as one job array."""
    results = [str(batch / "results" / f"{i}.json") for i, _ in chosen]
    event_files = [batch / "events" / f"{i}.jsonl" for i, _ in chosen]
    jobs = executor.map_array(
        _slurm_job,
        [fn] * len(chosen),
        [spec for _, spec in chosen],
        results,
        [str(p) if with_events else None for p in event_files],
        [env] * len(chosen),
    )
    return {
        index: (job, spec, _Tail(path))
        for (index, spec), job, path in zip(chosen, jobs, event_files)
    }


def _collect(batch: Path, index: int, job: Any) -> Any:
    """The result of job ``index`` (its file read, then deleted), WorkerDied, or None if running."""
    path = batch / "results" / f"{index}.json"
    if not path.exists():
        if not job.done():
            return None
        if not path.exists():  # the job ended without writing its result
            return WorkerDied(
                f"job {job.job_id} ended ({job.state}) without a result; its log: "
                f"{job.paths.stderr}"
            )
    payload = json.loads(path.read_text())
    path.unlink()
    shutil.rmtree(job.paths.folder, ignore_errors=True)  # submitit's pickles and logs of an ok job
    if not payload.get("ok"):
        return WorkerDied(payload.get("error", "the job failed"))
    return decode(payload["value"])


PLUGINS = (SlurmExecutor,)
