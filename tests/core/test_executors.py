"""Executors: the same suite stores the same metrics on every engine; events reach the
coordinator; settings are checked; GPUs are assigned; workers die with their coordinator."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from harbench import coordinator
from harbench import events as ev
from harbench.contracts import HarbenchError
from harbench_executors.common import WorkerDied
from harbench_executors.process import ProcessExecutor, _spawning, worker_env
from tests.helpers import harbench_env, run_cli

SUITE = """
name: engines
defaults:
  training: {epochs: 2, batch_size: 32, patience: 5}
matrix:
  datasets: [synthetic]
  models: [{tinierhar: {filters: 4, hidden: 8}}]
  methods: [full, {lora: {r: 4}}]
  seeds: [0]
  folds: [0]
"""
# what may differ between two executions of the same run: times and memory of the process
TIMING = re.compile(r"seconds|_s$|_ms$|rss|latency|cuda|_mb$")
ENGINE_OPTIONS = {
    "local": {},
    "process": {},
    "ray": {},
    "slurm": {"cluster": "local", "poll_s": 0.2},
}


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def stored_results(db) -> dict:
    """Every run's metrics (timings and memory left out) and training curves."""
    metrics = rows(db, "SELECT run_id, name, value FROM metrics ORDER BY run_id, name")
    curves = rows(
        db, "SELECT run_id, stage, epoch, train_loss, val_loss, val_f1 FROM curves ORDER BY ALL"
    )
    kept = {(r, n): v for r, n, v in metrics if not TIMING.search(n)}
    return {"metrics": kept, "curves": curves}


def differences(got: dict, want: dict) -> dict:
    """(run, metric) -> (want, got) for every metric that differs or is missing on one side."""
    keys = set(got["metrics"]) | set(want["metrics"])
    return {k: (want["metrics"].get(k), got["metrics"].get(k)) for k in sorted(keys)
            if want["metrics"].get(k) != got["metrics"].get(k)}


def run_on(engine: str, tmp_path, workers: int = 2):
    path = tmp_path / f"{engine}.yaml"
    path.write_text(SUITE)
    seen: list = []
    summary = coordinator.run_suite(
        path,
        db=tmp_path / f"{engine}.duckdb",
        executor=engine,
        workers=workers,
        options=ENGINE_OPTIONS[engine],
        sink=seen.append,
    )
    return summary, seen


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The suite run in this process, one run after another."""
    tmp = tmp_path_factory.mktemp("local")
    summary, seen = run_on("local", tmp, workers=1)
    assert (summary.ok, summary.failed) == (2, 0)
    return stored_results(tmp / "local.duckdb")


@pytest.mark.parametrize("engine", ["process", "ray", "slurm"])
def test_every_engine_stores_the_same_metrics_and_sends_progress(engine, tmp_path, reference):
    if engine in ("ray", "slurm"):
        pytest.importorskip({"ray": "ray", "slurm": "submitit"}[engine])
    summary, seen = run_on(engine, tmp_path)
    assert (summary.ok, summary.failed) == (2, 0)
    got = stored_results(tmp_path / f"{engine}.duckdb")
    assert len(reference["metrics"]) > 40
    assert differences(got, reference) == {}
    assert got["curves"] == reference["curves"]
    run_ids = {run_id for run_id, _name in got["metrics"]}
    started = {e.run_id for e in seen if isinstance(e, ev.RunStarted)}
    assert started == run_ids
    for run_id in run_ids:  # every epoch of every run was reported from its worker, in order
        epochs = [e.epoch for e in seen if isinstance(e, ev.EpochEnded) and e.run_id == run_id]
        assert epochs == [1, 2]
    finished = [e for e in seen if isinstance(e, ev.RunFinished)]
    assert [e.done for e in finished] == [1, 2] and all(e.seconds > 0 for e in finished)
    for e in finished:  # a run is reported started before its epochs, and epochs before the end
        kinds = [type(x).__name__ for x in seen if getattr(x, "run_id", None) == e.run_id]
        assert kinds == ["RunStarted", "EpochEnded", "EpochEnded", "RunFinished"]


def _chatty_run(spec, emit):
    """A run that sends an event every 50 ms while it works, and says when it ran."""
    start = time.time()
    for step in range(20):
        emit((spec, step))
        time.sleep(0.05)
    return start, time.time()


def test_ray_runs_no_more_tasks_at_once_than_its_cpus_while_they_send_events(monkeypatch):
    # a task blocked in ray.get lends its CPU back to Ray, which starts another task on it: had
    # sending an event waited for an answer, four runs would share the two CPUs at once
    pytest.importorskip("ray")
    from harbench_executors.ray import RayExecutor

    # Ray's workers import _chatty_run by this module's name: give them the folder it starts in
    root = str(Path(__file__).resolve().parents[__name__.count(".")])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.getenv("PYTHONPATH")])))

    arrived: list = []
    for spec, span in RayExecutor().map(_chatty_run, range(4), workers=2, events=arrived.append):
        assert isinstance(span, tuple), span
        arrived.append((spec, "result", span))
    spans = [item[2] for item in arrived if item[1] == "result"]
    at_once = max(sum(start <= t < end for start, end in spans) for t, _ in spans)
    assert at_once <= 2, f"{at_once} runs at once on 2 CPUs"
    for spec in range(4):  # every event, in sending order, before the run's result
        mine = [item[1] for item in arrived if item[0] == spec]
        assert mine == [*range(20), "result"]


def _pid_or_crash_telling(spec, emit):
    """``_pid_or_crash`` that first says which run it is (events on: the task's thread path)."""
    emit(("started", spec))
    return _pid_or_crash(spec)


def test_a_ray_session_keeps_its_cluster_and_a_failed_task_fails_its_run_only(monkeypatch):
    pytest.importorskip("ray")
    import ray

    from harbench_executors.ray import RayExecutor

    root = str(Path(__file__).resolve().parents[__name__.count(".")])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.getenv("PYTHONPATH")])))
    told: list = []
    with RayExecutor().session(workers=1, events=told.append) as running:
        first = dict(running.map(_pid_or_crash_telling, [0, "die", 1]))
        assert ray.is_initialized()  # the local cluster stays up for the session's next map
        second = dict(running.map(_pid_or_crash_telling, ["raise", 2]))
    assert not ray.is_initialized()  # and stops with the session that started it
    assert isinstance(first["die"], WorkerDied) and "WorkerCrashedError" in str(first["die"])
    assert isinstance(second["raise"], WorkerDied)
    assert all(isinstance(v, int) for v in (first[0], first[1], second[2]))
    assert ("started", 2) in told and ("started", 0) in told


def test_executor_settings_are_checked_with_their_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SUITE + "executor: {name: process, workers: 0}\n")
    with pytest.raises(HarbenchError, match=r"executor\.workers.*>= 1"):
        coordinator.run_suite(path, db=tmp_path / "x.duckdb")
    path.write_text(SUITE + "executor: {name: process, worker: 2}\n")
    with pytest.raises(HarbenchError, match=r"key 'executor\.worker'.*no parameter 'worker'"):
        coordinator.run_suite(path, db=tmp_path / "x.duckdb")
    path.write_text(SUITE + "executor: {name: process, max_runs_per_worker: 0}\n")
    with pytest.raises(HarbenchError, match=r"executor\.max_runs_per_worker.*>= 1"):
        coordinator.run_suite(path, db=tmp_path / "x.duckdb")
    path.write_text(SUITE + "executor: {name: ray, gpus: -1}\n")
    with pytest.raises(HarbenchError, match=r"executor\.gpus"):
        coordinator.run_suite(path, db=tmp_path / "x.duckdb")
    # another executor named on the command line does not inherit the suite's engine options
    path.write_text(SUITE + "executor: {name: ray, address: auto, gpus: 0.5}\n")
    loaded = coordinator.suite.load(path)
    engine, settings = coordinator.executor_settings(loaded, "process", 3)
    assert engine.name == "process" and settings["workers"] == 3


def _report_env(_spec):
    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("HARBENCH_DEVICE")


def test_process_workers_are_placed_on_the_visible_gpus_in_turn(monkeypatch):
    assert [worker_env(s, "cuda", ["3", "5"])["CUDA_VISIBLE_DEVICES"] for s in range(4)] == [
        "3", "5", "3", "5"
    ]
    assert worker_env(0, "cpu", ["3"]) == {"HARBENCH_DEVICE": "cpu"}
    assert worker_env(0, None, ["3"]) == {}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    results = ProcessExecutor().map(_report_env, range(4), workers=2, settings={"device": "cuda"})
    seen = {result for _spec, result in results}
    assert {(gpu, device) for _pid, gpu, device in seen} == {("3", "cuda"), ("5", "cuda")}
    assert len(seen) == len({pid for pid, _gpu, _device in seen}) == 2  # one GPU per worker
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,5"  # the coordinator's own is untouched


def test_a_ctrl_c_during_a_worker_spawn_is_kept_for_the_coordinator():
    # around a spawn SIGINT is blocked, not ignored: an ignored one would be lost for good
    reached = False
    with pytest.raises(KeyboardInterrupt):
        with _spawning({}):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            reached = True  # still blocked here: the Ctrl-C waits for the end of the spawn
    assert reached


def _pid_or_crash(spec):
    """The worker's pid; spec "die" ends the worker mid-run, spec "raise" raises out of it."""
    if spec == "die":
        os._exit(3)
    if spec == "raise":
        raise SystemExit("asked to")
    return os.getpid()


def test_process_workers_are_kept_across_runs_unless_limited():
    kept = dict(ProcessExecutor().map(_pid_or_crash, range(6), workers=2))
    assert len(set(kept.values())) == 2  # two worker processes took the six runs
    fresh = dict(ProcessExecutor().map(_pid_or_crash, range(4), workers=2,
                                       settings={"max_runs_per_worker": 1}))
    assert len(set(fresh.values())) == 4
    pairs = dict(ProcessExecutor().map(_pid_or_crash, range(4), workers=1,
                                       settings={"max_runs_per_worker": 2}))
    assert [pairs[0] == pairs[1], pairs[1] == pairs[2], pairs[2] == pairs[3]] == [True, False, True]


def _pid_or_stall(spec):
    """The worker's pid; spec "stall" sleeps long enough to be abandoned."""
    if spec == "stall":
        time.sleep(60)
    return os.getpid()


def test_a_process_session_keeps_its_workers_across_maps_and_ends_abandoned_runs():
    with ProcessExecutor().session(workers=2) as pool:
        first = dict(pool.map(_pid_or_crash, range(4)))
        again = dict(pool.map(_pid_or_crash, range(4)))
        assert set(first.values()) == set(again.values()) and len(set(first.values())) == 2
        abandoned = pool.map(_pid_or_stall, ["stall", 0])
        spec, pid = next(abandoned)  # run 0 ends; the other worker is still in its stall
        assert spec == 0
        stalled = next(w.process for w in pool.slots if w is not None and w.spec == "stall")
        abandoned.close()  # nobody wants the stalled run: its worker ends now
        assert not stalled.is_alive()
        after = dict(pool.map(_pid_or_crash, range(2)))
        assert pid in after.values()  # the idle worker was kept; the stalled one replaced
        kept = [w.process for w in pool.slots if w is not None]
    assert kept and not any(p.is_alive() for p in kept)  # none outlives the session


def _peak_after(spec):
    """As the runner does at a run's start: reset the peak mark; spec 0 then takes 400 MiB."""
    from harbench.measure import memory

    memory.reset_peak_rss()
    if spec == 0:
        block = bytearray(400 * 2**20)  # zero-filled, so every page is touched
        del block
    return os.getpid(), memory.peak_rss_bytes()


def test_a_kept_worker_reports_each_runs_own_peak_memory():
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("the peak-RSS mark can be reset only on Linux")
    results = dict(ProcessExecutor().map(_peak_after, [0, 1], workers=1))
    (pid0, peak0), (pid1, peak1) = results[0], results[1]
    assert pid0 == pid1  # the same worker took both runs
    assert peak0 - peak1 > 300 * 2**20  # the second run's peak is not the first run's


def test_a_process_worker_that_dies_or_raises_fails_its_run_only_and_is_replaced():
    results = dict(ProcessExecutor().map(_pid_or_crash, [0, "die", 1, "raise", 2], workers=1))
    assert "exit code 3" in str(results["die"]) and isinstance(results["die"], WorkerDied)
    assert "SystemExit: asked to" in str(results["raise"])
    assert results[0] != results[1] != results[2]  # a fresh worker after each failure
    assert all(isinstance(results[k], int) for k in (0, 1, 2))


def _spawned_workers(parent: psutil.Process) -> list[psutil.Process]:
    return [c for c in parent.children() if "multiprocessing" in " ".join(c.cmdline())]


def _start_suite(tmp_path, engine: str, epochs: int, runs: str = "[0]"):
    path = tmp_path / "long.yaml"
    text = SUITE.replace("epochs: 2", f"epochs: {epochs}")
    path.write_text(text.replace("seeds: [0]", f"seeds: {runs}"))
    args = [sys.executable, "-m", "harbench", "run", str(path), "--db", str(tmp_path / "l.duckdb"),
            "--executor", engine, "--workers", "2", "--no-leaderboard"]
    return subprocess.Popen(args, env=harbench_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_as_a_terminal_job)


def _as_a_terminal_job() -> None:
    """In the suite's process before exec: SIGINT to its default, as in a terminal's foreground
    job (a test run started in the background, e.g. ``make test &``, has it ignored, and an
    ignored signal survives exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_workers(proc: subprocess.Popen, count: int) -> list[psutil.Process]:
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = _spawned_workers(parent)
        if len(workers) >= count:
            time.sleep(3)  # past their start-up: running the suite's code
            return workers
        time.sleep(0.2)
    raise AssertionError("the suite never started its workers")


def _alive(p: psutil.Process) -> bool:
    """Running (a zombie has exited: only its parent's bookkeeping is left)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_within(workers: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """The workers still running after ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [p for p in workers if _alive(p)]


def test_a_finished_process_suite_lets_its_workers_exit_cleanly(tmp_path):
    # killed workers leave the semaphores their libraries registered to the resource tracker,
    # which then warns about leaks at the coordinator's exit
    proc = _start_suite(tmp_path, "process", epochs=1, runs="[0, 1]")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "4 ok" in out and "leaked" not in out and "Traceback" not in out


def test_workers_die_with_a_killed_coordinator(tmp_path):
    proc = _start_suite(tmp_path, "process", epochs=200)
    workers = _wait_for_workers(proc, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    alive = _gone_within(workers, 10)
    for p in alive:  # leave nothing behind, then fail
        p.kill()
    assert not alive, f"workers still alive 10 s after the coordinator was killed: {alive}"
    assert "Traceback" not in proc.stdout.read()


def test_ctrl_c_prints_one_line_and_no_worker_traceback(tmp_path):
    proc = _start_suite(tmp_path, "process", epochs=200)
    workers = _wait_for_workers(proc, 2)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole foreground group
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert out.count("interrupted") == 1
    assert not _gone_within(workers, 10)


def test_a_sigkilled_ray_suite_resumes_without_duplicates_or_losses(tmp_path):
    pytest.importorskip("ray")
    proc = _start_suite(tmp_path, "ray", epochs=3, runs="[0, 1]")
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("[1/4] ok"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    try:
        assert proc.returncode == -signal.SIGKILL, "".join(seen)
        first = rows(tmp_path / "l.duckdb", "SELECT run_id FROM runs")
        assert 1 <= len(first) < 4
        args = ["run", str(tmp_path / "long.yaml"), "--db", str(tmp_path / "l.duckdb"),
                "--executor", "ray", "--workers", "2", "--no-leaderboard"]
        resumed = run_cli(args, env=harbench_env(), cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert f"{len(first)} already stored" in resumed.stdout
        db = tmp_path / "l.duckdb"
        assert rows(db, "SELECT count(*), count(DISTINCT run_id) FROM runs") == [(4, 4)]
        assert set(first) <= set(rows(db, "SELECT run_id FROM runs"))
        assert rows(db, "SELECT count(*) FROM metrics WHERE name = 'macro_f1'") == [(4,)]
    finally:
        _kill_session(proc.pid)


def _kill_session(sid: int) -> None:
    """End what the killed suite's local Ray cluster left in its session, if anything."""
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid:
                p.kill()
        except (ProcessLookupError, psutil.Error, PermissionError):
            continue


def test_result_files_round_trip_and_rebuild_nothing_but_dataclasses():
    import json

    from harbench.coordinator import Finished
    from harbench.runner import RunResult
    from harbench_executors.common import decode, encode

    result = RunResult(run_id="r1", spec={"seed": 0}, status="ok", metrics={"macro_f1": 0.1 / 3},
                       curves=[{"epoch": 1, "val_f1": 0.25}])
    finished = Finished(result, 1.5)
    assert decode(json.loads(json.dumps(encode(finished)))) == finished
    with pytest.raises(ValueError, match="not a dataclass"):
        decode({"__dataclass__": "os:system", "command": "true"})
