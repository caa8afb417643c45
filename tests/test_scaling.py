"""Pretraining as a stage of the plan: each distinct stage once, before the runs that need it."""

from __future__ import annotations

import contextlib

from harbench import coordinator, suite
from harbench.contracts import Executor
from tests.helpers import harbench_env, run_cli, write_plugin_dist

# An MAE that leaves a mark (its process id) in PRETRAIN_MARKS whenever it is pretrained, and in
# BUILD_MARKS whenever a worker builds it (for its stage or a run), so the test can count the
# processes that pretrained or ran it. The coordinator also builds each backbone once, to check a
# suite's ranks and windows against its layers; that build is not a run and leaves no mark.
COUNTING_MAE = """
import multiprocessing
import os
from pathlib import Path

from harbench.hookspecs import hookimpl
from harbench_models.mae import MAE


class CountingMAE(MAE):
    name = "counting_mae"

    def build(self, **kwargs):
        if multiprocessing.parent_process() is not None:  # a spawned worker, not the coordinator
            Path(os.environ["BUILD_MARKS"], str(os.getpid())).touch()
        model = super().build(**kwargs)
        loss = model.pretrain_loss

        def counted(x, mask_ratio):
            Path(os.environ["PRETRAIN_MARKS"], str(os.getpid())).touch()
            return loss(x, mask_ratio)

        model.pretrain_loss = counted
        return model


@hookimpl
def harbench_register_models(register):
    register(CountingMAE())
"""

SUITE = """
name: staged
defaults:
  training: {epochs: 1, batch_size: 64, patience: 5}
  pretrain: {objective: mae, models: [MODEL], epochs: 1, batch_size: 128}
matrix:
  datasets: [synthetic]
  models:
    - MODEL: {dim: 16, depth: 1, heads: 2, decoder_dim: 16, decoder_depth: 1}
    - {tinierhar: {filters: 4, hidden: 8}}
  methods: [full, linear_probe]
  seeds: [0]
  folds: [0]
executor: {name: process, workers: 2}
"""


def test_the_plan_holds_each_distinct_stage_once_before_the_runs_that_need_it(tmp_path):
    path = tmp_path / "s.yaml"
    text = SUITE.replace("MODEL", "mae")
    path.write_text(text.replace("seeds: [0]", "seeds: [0, 1]"))
    specs = suite.load(path).expand()
    work = coordinator.plan(specs)
    mae_runs = [s for s in specs if s.model == "mae"]
    assert len(mae_runs) == 4 and len(work.stages) == 2  # one stage per seed, shared by 2 methods
    assert {s.spec.seed for s in work.stages} == {0, 1}
    assert sorted(s.run_id for s in work.after) == sorted(s.run_id for s in mae_runs)
    assert {s.model for s in work.first} == {"tinierhar"}
    assert work.phases == [[*work.stages, *work.first], work.after]


def test_two_process_workers_pretrain_a_shared_backbone_once_and_a_rerun_not_again(tmp_path):
    site = write_plugin_dist(
        tmp_path / "site", "counting-mae", {"counting_mae": COUNTING_MAE},
        {"counting_mae": "counting_mae"},
    )
    marks, builds, cache = tmp_path / "marks", tmp_path / "builds", tmp_path / "cache"
    marks.mkdir()
    builds.mkdir()
    path = tmp_path / "staged.yaml"
    path.write_text(SUITE.replace("MODEL", "counting_mae"))
    env = harbench_env(site, PRETRAIN_MARKS=str(marks), BUILD_MARKS=str(builds),
                       HARBENCH_CACHE=str(cache))
    args = ["run", str(path), "--db", str(tmp_path / "s.duckdb"), "--no-leaderboard"]
    done = run_cli(args, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 ok, 0 failed" in done.stdout
    assert done.stdout.count("stage ok") == 1
    assert len(list(marks.iterdir())) == 1  # one process pretrained; both runs loaded its result
    assert len(list((cache / "pretrain").iterdir())) == 1
    # the stage and the runs after it went through one pool of two workers, not one per phase
    assert len(list(builds.iterdir())) == 2
    assert {m.name for m in marks.iterdir()} <= {b.name for b in builds.iterdir()}
    again = run_cli([*args, "--rerun"], env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "4 ok, 0 failed" in again.stdout
    assert "stage ok" not in again.stdout  # the finished stage was found in the cache: not planned
    assert len(list(marks.iterdir())) == 1  # and not trained again by any run


class _Phases:
    """A duck-typed executor (``map`` alone, no ``session``): runs here, recording each map."""

    name = "phases"
    params: dict = {}

    def __init__(self) -> None:
        self.maps: list[int] = []

    def map(self, fn, specs, *, workers=1, events=None, settings=None):
        specs = list(specs)
        self.maps.append(len(specs))
        for spec in specs:
            yield spec, fn(spec, events)


class _Sessions(_Phases, Executor):
    """The same executor with a session: records the maps made through each session."""

    name = "sessions"
    sessions: list[int]

    @contextlib.contextmanager
    def session(self, **kwargs):
        self.sessions = [*getattr(self, "sessions", []), 0]
        with Executor.session(self, **kwargs) as running:
            yield running
        self.sessions[-1] = len(self.maps)


def test_the_coordinator_maps_every_phase_through_one_session(tmp_path, monkeypatch):
    path = tmp_path / "staged.yaml"
    path.write_text(SUITE.replace("MODEL", "mae").replace("workers: 2", "workers: 1"))
    real_get = coordinator.plugins.get
    for engine in (_Phases(), _Sessions()):
        monkeypatch.setenv("HARBENCH_CACHE", str(tmp_path / f"cache-{engine.name}"))
        monkeypatch.setattr(coordinator.plugins, "get", lambda kind, name, e=engine:
                            e if kind == "executors" else real_get(kind, name))
        summary = coordinator.run_suite(path, db=tmp_path / f"{engine.name}.duckdb",
                                        executor=engine.name, rerun=True)
        assert (summary.ok, summary.failed, summary.stages) == (4, 0, 1)
        assert engine.maps == [3, 2]  # the stage with the 2 runs that need none; then the MAE's
    assert engine.sessions == [2]  # both phases through the one session
    stored = coordinator.run_suite(path, db=tmp_path / "sessions.duckdb", executor="sessions")
    assert (stored.skipped, stored.ok) == (4, 0)
    assert engine.sessions == [2]  # nothing left to run: no session (no workers, no cluster)
