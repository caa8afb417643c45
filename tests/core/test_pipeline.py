"""The whole path: suite -> runner -> store -> leaderboard, resume after SIGKILL, failing runs."""

from __future__ import annotations

import signal
import subprocess
import sys

import duckdb
import pytest

from harbench import cli, coordinator
from tests.helpers import harbench_env, run_cli, write_plugin_dist

SUITE = """
name: pipe
defaults:
  training: {epochs: 2, batch_size: 32, patience: 2}
matrix:
  datasets: [synthetic]
  models: [{tinierhar: {hidden: 8}}]
  methods: [full, linear_probe]
  seeds: [0, 1]
  folds: [0]
"""

FAILING = """
import os
import signal

import torch
from harbench.contracts import MethodPlugin
from harbench.hookspecs import hookimpl


class Boom(MethodPlugin):
    name = "boom"

    def adapt(self, model, **params):
        raise RuntimeError("boom: this method always fails")


class Diverge(MethodPlugin):
    name = "diverge"
    bn_policy = "update"

    def adapt(self, model, **params):
        model.register_forward_hook(lambda module, args, out: out * float("nan"))
        return model


class Crash(MethodPlugin):
    name = "crash"

    def adapt(self, model, **params):
        os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def harbench_register_methods(register):
    register(Boom())
    register(Diverge())
    register(Crash())
"""


def rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_suite_runs_stores_and_skips_on_second_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    db = tmp_path / "r.duckdb"
    summary = coordinator.run_suite(path, db=db)
    assert (summary.ok, summary.failed, summary.skipped) == (4, 0, 0)
    stored = rows(db, "SELECT status, count(*) FROM runs GROUP BY status")
    assert stored == [("ok", 4)]
    f1 = rows(db, "SELECT value FROM metrics WHERE name = 'macro_f1'")
    assert len(f1) == 4 and all(0.0 <= v <= 1.0 for (v,) in f1)
    curves = rows(db, "SELECT count(*) FROM curves WHERE stage = 'train'")[0][0]
    assert curves == 4 * 2
    again = coordinator.run_suite(path, db=db)
    assert (again.ok, again.skipped) == (0, 4)
    forced = coordinator.run_suite(path, db=db, rerun=True)
    assert forced.ok == 4
    assert rows(db, "SELECT count(*), count(DISTINCT run_id) FROM runs") == [(4, 4)]

    assert cli.main(["leaderboard", "--db", str(db), "--suite", "pipe"]) == 0
    board = capsys.readouterr().out
    assert "linear_probe" in board and "full" in board
    assert cli.main(["query", "--db", str(db), "SELECT count(*) AS n FROM runs"]) == 0
    assert "4" in capsys.readouterr().out
    assert cli.main(["query", "--db", str(db), "SELECT * FROM runs"]) == 0  # timestamps fetch
    assert cli.main(["query", "--db", str(db), "DELETE FROM runs"]) == 2  # read-only
    assert rows(db, "SELECT count(*) FROM runs") == [(4,)]
    for fmt, name in (("csv", "out.csv"), ("parquet", "out.parquet"), ("markdown", "out.md")):
        out = tmp_path / name
        assert cli.main(["export", "--db", str(db), "--format", fmt, "-o", str(out)]) == 0
        assert out.stat().st_size > 0
    assert "macro_f1" in (tmp_path / "out.csv").read_text().splitlines()[0]


def test_runs_are_deterministic_on_cpu(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    coordinator.run_suite(path, db=tmp_path / "a.duckdb")
    coordinator.run_suite(path, db=tmp_path / "b.duckdb")
    sql = "SELECT run_id, value FROM metrics WHERE name = 'test_loss' ORDER BY run_id"
    assert rows(tmp_path / "a.duckdb", sql) == rows(tmp_path / "b.duckdb", sql)


def test_failing_and_diverging_runs_are_stored_as_failed_and_the_suite_goes_on(tmp_path):
    site = write_plugin_dist(
        tmp_path / "site", "tp-failing", {"tp_failing": FAILING}, {"tp_failing": "tp_failing"}
    )
    suite_file = tmp_path / "f.yaml"
    suite_file.write_text(
        SUITE.replace("[full, linear_probe]", "[boom, full, diverge]").replace("[0, 1]", "[0]")
    )
    db = tmp_path / "f.duckdb"
    done = run_cli(["run", str(suite_file), "--db", str(db)], env=harbench_env(site), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    stored = dict(rows(db, "SELECT method, status FROM runs"))
    assert stored == {"boom": "failed", "full": "ok", "diverge": "failed"}
    errors = dict(rows(db, "SELECT method, error FROM runs WHERE status = 'failed'"))
    assert "boom: this method always fails" in errors["boom"]
    assert "diverged" in errors["diverge"] and "nan" in errors["diverge"]


def test_a_worker_process_that_dies_is_stored_as_failed_and_the_suite_goes_on(tmp_path):
    site = write_plugin_dist(
        tmp_path / "site", "tp-failing", {"tp_failing": FAILING}, {"tp_failing": "tp_failing"}
    )
    suite_file = tmp_path / "c.yaml"
    suite_file.write_text(
        SUITE.replace("[full, linear_probe]", "[crash, full]").replace("[0, 1]", "[0]")
    )
    db = tmp_path / "c.duckdb"
    args = ["run", str(suite_file), "--db", str(db), "--executor", "process", "--workers", "2"]
    done = run_cli(args, env=harbench_env(site), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    stored = dict(rows(db, "SELECT method, status FROM runs"))
    assert stored == {"crash": "failed", "full": "ok"}
    (error,) = rows(db, "SELECT error FROM runs WHERE method = 'crash'")[0]
    assert "WorkerDied" in error and "exit code -9" in error


@pytest.mark.parametrize("executor", ["local", "process"])
def test_sigkill_mid_suite_resumes_without_duplicates_or_losses(tmp_path, executor):
    suite_file = tmp_path / "k.yaml"
    suite_file.write_text(SUITE.replace("epochs: 2", "epochs: 4"))
    db = tmp_path / "k.duckdb"
    env = harbench_env()
    args = [
        sys.executable,
        "-m",
        "harbench",
        "run",
        str(suite_file),
        "--db",
        str(db),
        "--executor",
        executor,
    ]
    proc = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("[1/4] ok"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    first = rows(db, "SELECT run_id FROM runs")
    assert 1 <= len(first) < 4
    resumed = run_cli(["run", str(suite_file), "--db", str(db)], env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"{len(first)} already stored" in resumed.stdout
    assert rows(db, "SELECT count(*), count(DISTINCT run_id) FROM runs") == [(4, 4)]
    assert set(first) <= set(rows(db, "SELECT run_id FROM runs"))
    assert rows(db, "SELECT count(*) FROM metrics WHERE name = 'macro_f1'") == [(4,)]


def test_missing_datasets_are_skipped_with_a_reason_when_the_suite_allows(tmp_path, data_root):
    text = SUITE.replace("[synthetic]", "[synthetic, pamap2]").replace("[0, 1]", "[0]")
    path = tmp_path / "m.yaml"
    path.write_text(text + "skip_missing_datasets: true\n")
    from harbench import events

    seen = []
    summary = coordinator.run_suite(path, db=tmp_path / "m.duckdb", sink=seen.append)
    assert (summary.total, summary.ok) == (2, 2)
    skipped = [e for e in seen if isinstance(e, events.DatasetSkipped)]
    assert [e.dataset for e in skipped] == ["pamap2"]
    assert "not present in" in skipped[0].reason
    strict = tmp_path / "strict.yaml"
    strict.write_text(text)
    failed = coordinator.run_suite(strict, db=tmp_path / "s.duckdb")
    assert failed.failed == 2  # without the flag, a missing dataset is a failed run with its reason
    errors = rows(tmp_path / "s.duckdb", "SELECT error FROM runs WHERE dataset = 'pamap2'")
    assert all("not present" in e and "harbench data fetch pamap2" in e for (e,) in errors)
