"""Readers never cost a result, a damaged store is never written, and one suite never runs twice
on one store at the same time."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from harbench import cli, coordinator, events, spill
from harbench.contracts import HarbenchError
from harbench.runner import RunResult
from harbench.store import Store
from harbench.suitelock import suite_lock
from tests.adversarial.conftest import tiny_suite

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM runs").fetchall()
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold(db, seconds: float) -> subprocess.Popen:
    """Another process holding ``db`` read-only (a long notebook query) for ``seconds``."""
    reader = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "holding"
    return reader


def stored(db) -> list[tuple]:
    with Store(db, read_only=True) as store:
        return store.query("SELECT run_id, status FROM runs ORDER BY run_id")[1]


def test_a_reader_holding_the_store_past_the_writers_wait_loses_no_result(tmp_path, monkeypatch):
    monkeypatch.setenv("HARBENCH_DB_WAIT", "0.1")  # the writer waits 5 x 0.1 s per write
    db = tmp_path / "r.duckdb"
    Store(db).close()
    path = tiny_suite(tmp_path, seeds="0, 1")
    readers = []

    def sink(event):
        if isinstance(event, events.RunStarted) and not readers:
            readers.append(hold(db, 120))  # holds through both writes and the end of the suite

    with pytest.warns(spill.ResultsKeptWarning, match="2 finished result"):
        summary = coordinator.run_suite(path, db=db, sink=sink)
    assert summary.ok == 2 and summary.pending == 2
    assert len(spill.pending(db)) == 2
    readers[0].kill()  # the reader leaves
    readers[0].wait(timeout=60)
    again = coordinator.run_suite(path, db=db)  # ingests what is pending, trains nothing
    assert again.skipped == 2 and again.ok == 0
    assert [status for _, status in stored(db)] == ["ok", "ok"]
    assert spill.pending(db) == []


def test_a_pending_result_is_ingested_by_the_next_write_once_the_reader_leaves(tmp_path):
    db = tmp_path / "r.duckdb"
    store = Store(db, wait_s=0.2)
    spec = {"dataset": "d", "model": "m", "method": "x", "fold": 0, "seed": 0}
    reader = hold(db, 1.5)
    assert not spill.write_or_keep(store, RunResult("a", spec, "ok", metrics={"f": 1.0}), {})
    kept = json.loads(spill.pending(db)[0].read_text())  # plain JSON, never a pickle
    assert kept["result"]["run_id"] == "a"
    reader.wait(timeout=30)
    assert spill.write_or_keep(store, RunResult("b", spec, "ok", metrics={"f": 2.0}), {})
    assert [r for r, _ in stored(db)] == ["a", "b"] and spill.pending(db) == []


def test_a_damaged_pending_file_is_set_aside_not_loaded(tmp_path):
    db = tmp_path / "r.duckdb"
    store = Store(db)
    folder = spill.pending_dir(db)
    folder.mkdir()
    (folder / "x.json").write_text("{not json")
    assert spill.ingest(store) == 0
    assert (folder / "x.bad").is_file()


def test_query_has_a_statement_timeout_and_a_memory_limit(tmp_path, monkeypatch):
    db = tmp_path / "r.duckdb"
    Store(db).close()
    monkeypatch.setenv("HARBENCH_QUERY_TIMEOUT", "0.5")
    with Store(db, sandbox=True) as store:
        limit = store.query("SELECT current_setting('memory_limit')")[1][0][0]
        with pytest.raises(HarbenchError, match=r"stopped after 0.5 s .*HARBENCH_QUERY_TIMEOUT"):
            store.query("SELECT sum(a.range * b.range) FROM range(100000000) a, range(1000) b")
    assert "GiB" in limit or "MiB" in limit
    monkeypatch.setenv("HARBENCH_QUERY_MEMORY", "lots")
    with pytest.raises(HarbenchError, match="HARBENCH_QUERY_MEMORY"):
        Store(db, sandbox=True)


def damaged_store(tmp_path):
    db = tmp_path / "r.duckdb"
    with Store(db) as store:
        store.write(RunResult("a", {"dataset": "d", "model": "m", "method": "x", "fold": 0,
                                    "seed": 0}, "ok", metrics={"f": 1.0}))
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    return db, hashlib.sha256(db.read_bytes()).hexdigest()


def test_a_half_truncated_store_is_refused_before_any_write_and_left_byte_identical(tmp_path,
                                                                                   capsys):
    db, before = damaged_store(tmp_path)
    with pytest.raises(HarbenchError, match="left untouched"):
        Store(db)
    path = tiny_suite(tmp_path)
    assert cli.main(["run", str(path), "--db", str(db), "--no-leaderboard"]) == 2
    assert "damaged" in capsys.readouterr().err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_the_same_suite_started_twice_on_one_store_is_refused(tmp_path):
    db = tmp_path / "r.duckdb"
    path = tiny_suite(tmp_path, name="twice")
    with suite_lock(db, "twice"):  # the first `harbench run` of the suite holds it
        with pytest.raises(HarbenchError, match="'twice' is already running"):
            coordinator.run_suite(path, db=db)
        assert not db.exists()  # refused before the store was opened: nothing written
        other = coordinator.run_suite(tiny_suite(tmp_path, name="other", seeds="1"), db=db)
        assert other.ok == 1  # another suite on the same store is not held up
    assert coordinator.run_suite(path, db=db).ok == 1  # released when the first ends
