"""The results store: read-only query, readable during a suite, suite YAML, plugin provenance."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import pytest

from harbench.cli import main
from harbench.contracts import HarbenchError
from harbench.store import Store
from tests.helpers import REPO, harbench_env, run_cli


@dataclass
class RunResult:
    """The fields of harbench.runner.RunResult that the store reads (without importing torch)."""

    run_id: str
    spec: dict[str, Any]
    status: str
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    env: dict[str, str] = field(default_factory=dict)


def result(i: int, f1: float = 0.5, status: str = "ok") -> RunResult:
    spec = {
        "dataset": "synthetic",
        "model": "tinierhar",
        "method": "full",
        "protocol": {"name": "subject_groups", "groups": 3},
        "fold": i,
        "seed": 0,
    }
    return RunResult(
        run_id=f"run{i:03d}",
        spec=spec,
        status=status,
        error="" if status == "ok" else "boom",
        metrics={"macro_f1": f1, "accuracy": f1} if status == "ok" else {},
        curves=[{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_f1": f1, "lr": 0.01}],
        started_at="2026-01-01 00:00:00",
        finished_at="2026-01-01 00:00:30",
        env={"harbench": "0.1.0", "torch": "2", "python": "3.11", "device": "cpu", "host": "h"},
    )


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "results.duckdb"
    with Store(path) as store:
        store.write(result(0, 0.61))
        store.write(result(1, 0.72))
    return path


@pytest.fixture
def other(tmp_path):
    """Somebody else's results database, which a query on ``db`` must not touch."""
    path = tmp_path / "other.duckdb"
    with Store(path) as store:
        store.write(result(7, 0.9))
    return path


def other_rows(path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT run_id, status FROM runs").fetchall()
    finally:
        con.close()


def query(db, sql, capsys) -> tuple[int, str]:
    code = main(["query", sql, "--db", str(db)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_query_reads_the_store(db, capsys):
    code, out = query(db, "SELECT count(*) AS n FROM runs WHERE status = 'ok'", capsys)
    assert code == 0 and "2" in out


def test_query_cannot_copy_over_another_database(db, other, capsys):
    before = other.read_bytes()
    code, out = query(db, f"COPY (SELECT 1 AS x) TO '{other}'", capsys)
    assert code == 2 and "query failed" in out
    assert other.read_bytes() == before


def test_query_cannot_attach_another_database_and_delete_its_rows(db, other, capsys):
    code, out = query(db, f"ATTACH '{other}' AS o (READ_WRITE)", capsys)
    assert code == 2 and "query failed" in out
    code, _ = query(db, f"ATTACH '{other}' AS o (READ_WRITE); DELETE FROM o.runs", capsys)
    assert code == 2
    assert other_rows(other) == [("run007", "ok")]


def test_query_cannot_read_files(db, tmp_path, capsys):
    secret = tmp_path / "secret.csv"
    secret.write_text("name,value\nsecret-token,42\n")
    for sql in (
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM '{secret}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM glob('{tmp_path}/*')",
    ):
        code, out = query(db, sql, capsys)
        assert code == 2, sql
        assert "secret-token" not in out and "root:" not in out


def test_query_cannot_install_load_or_change_settings(db, capsys):
    for sql in (
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "PRAGMA enable_external_access = true",
        "CREATE TABLE runs2 AS SELECT * FROM runs",
        "DELETE FROM runs",
    ):
        code, out = query(db, sql, capsys)
        assert code == 2 and "query failed" in out, sql
    code, out = query(db, "SELECT count(*) FROM runs", capsys)
    assert code == 0 and "2" in out


def test_export_still_writes_files(db, tmp_path, capsys):
    output = tmp_path / "out.csv"
    assert main(["export", "--db", str(db), "--output", str(output)]) == 0
    lines = output.read_text().splitlines()
    assert len(lines) == 3 and "run_id" in lines[0]


def test_link_suite_keeps_yaml_and_path_and_plugins_are_recorded(db):
    yaml_text = "name: demo\nmatrix: {datasets: [synthetic]}\n"
    with Store(db) as store:
        store.link_suite("demo", ["run000", "run001"], yaml_text=yaml_text, path="suites/d.yaml")
        store.link_suite("demo", ["run001"])  # a later link without YAML keeps the YAML
    with Store(db, read_only=True) as store:
        assert store.suite_yaml("demo") == ("suites/d.yaml", yaml_text)
        assert store.query("SELECT run_id FROM suite_runs WHERE suite = 'demo'")[1] == [
            ("run001",)
        ]
        (plugins_json,) = store.query("SELECT plugins FROM runs WHERE run_id = 'run000'")[1][0]
    used = json.loads(plugins_json)
    assert used["datasets"]["name"] == "synthetic"
    assert used["datasets"]["distribution"] == "harbench"
    assert used["datasets"]["plugin"] == "datasets"


def test_a_reader_open_on_a_closed_store_is_refused(tmp_path):
    with pytest.raises(HarbenchError, match="no results database"):
        Store(tmp_path / "none.duckdb", read_only=True)


READER = """
import sys, time
from harbench.store import Store
with Store(sys.argv[1], read_only=True) as store:
    print(store.query("SELECT count(*) FROM runs")[1][0][0], flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_write_waits_for_a_reader_in_another_process(db):
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(db), "1.5"], stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout.readline().strip() == "2"  # the reader holds the file now
    with Store(db) as store:
        store.write(result(2))  # waits for the reader to let go, then writes
    assert reader.wait(timeout=30) == 0
    with Store(db, read_only=True) as store:
        assert store.query("SELECT count(*) FROM runs")[1][0][0] == 3


CLI_WHEN_READY = """
import sys
from harbench import cli
print("ready", flush=True)
sys.exit(cli.main(sys.argv[1:]))
"""


def cli_during_a_write(db, args: list[str]) -> str:
    """Run ``harbench ARGS`` in another process while a write transaction holds ``db``: the
    transaction commits only once the command has started and waited a second. Its stdout."""
    writer = duckdb.connect(str(db))  # the next run's write transaction, in progress
    writer.execute("BEGIN TRANSACTION")
    writer.execute("UPDATE runs SET host = 'busy'")
    command = subprocess.Popen(
        [sys.executable, "-c", CLI_WHEN_READY, *args],
        env=harbench_env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert command.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        assert command.poll() is None  # still waiting for the file, not failed
    finally:
        writer.execute("COMMIT")
        writer.close()
    out, err = command.communicate(timeout=120)
    assert command.returncode == 0, err
    return out


def leaderboard_n(out: str) -> int:
    """The ``n`` column of the one leaderboard row."""
    rows = [line for line in out.splitlines() if "synthetic" in line]
    assert len(rows) == 1, out
    cells = [c.strip() for c in rows[0].replace("│", "|").split("|") if c.strip()]
    return int(cells[4])


def test_leaderboard_from_another_process_while_a_suite_writes_shows_runs_so_far(tmp_path):
    db = tmp_path / "live.duckdb"
    board = ["leaderboard", "--db", str(db)]
    with Store(db) as store:  # the coordinator keeps its Store for the whole suite
        store.link_suite("live", [f"run{i:03d}" for i in range(5)])
        for i in range(3):
            store.write(result(i, 0.5 + i / 10))
        done = run_cli(board, env=harbench_env(), cwd=REPO, timeout=120)
        assert done.returncode == 0, done.stderr
        assert leaderboard_n(done.stdout) == 3
        assert leaderboard_n(cli_during_a_write(db, board)) == 3
        for i in range(3, 5):
            store.write(result(i, 0.5))
        assert leaderboard_n(cli_during_a_write(db, board)) == 5


def test_validate_counts_stored_runs_while_the_writer_holds_the_file(tmp_path):
    from harbench import suite as suites

    suite = REPO / "suites" / "smoke.yaml"
    db = tmp_path / "smoke.duckdb"
    from harbench import codeprint

    specs = suites.load(suite).expand()
    with Store(db) as store:  # what the coordinator stored for the first runs (no training here)
        for i, spec in enumerate(specs[:-1]):
            env = {**result(i).env, "code": codeprint.for_spec(spec)}  # computed by this code
            store.write(replace(result(i), run_id=spec.run_id, env=env))
    out = cli_during_a_write(db, ["validate", str(suite), "--db", str(db)])
    assert f"{len(specs)} runs, {len(specs) - 1} already stored, 1 to run" in out


def test_query_and_export_wait_for_a_write_in_progress(db, tmp_path):
    sql = "SELECT count(*) AS stored_runs FROM runs"
    out = cli_during_a_write(db, ["query", sql, "--db", str(db)])
    assert "stored_runs" in out and "2" in out
    output = tmp_path / "during.csv"
    cli_during_a_write(db, ["export", "--db", str(db), "--output", str(output)])
    assert len(output.read_text().splitlines()) == 3


def test_a_reader_that_waited_long_enough_says_why(db):
    writer = duckdb.connect(str(db))
    try:
        script = "from harbench.store import Store; import sys; Store(sys.argv[1], read_only=True)"
        done = subprocess.run(
            [sys.executable, "-c", script, str(db)],
            env=harbench_env(HARBENCH_DB_WAIT="0.5"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        writer.close()
    assert done.returncode != 0
    assert "still locked by another process after 0.5 s" in done.stderr
    assert "HARBENCH_DB_WAIT" in done.stderr
