"""Issue 19 item 6: a stored run computed by different code is reported and recomputed; a comment
or docstring edit is not a change; old stores (no fingerprint column) count as stale-unknown."""

from __future__ import annotations

import json
import sys
import types

import duckdb
import pytest

from harbench import cli, codeprint, coordinator, runner, suite

SUITE = """
name: stale
defaults:
  training: {epochs: 2, batch_size: 32, patience: 2}
matrix:
  datasets: [synthetic]
  models: [{tinierhar: {hidden: 4}}]
  methods: [full]
  seeds: [0]
  folds: [0]
"""
SHUFFLE = "order = torch.randperm(n, generator=generator).to(X.device)"


def rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def edit_train(monkeypatch, tmp_path, old: str, new: str, *, execute: bool = False) -> None:
    """A temporary copy of harbench/train.py with ``old`` replaced: the fingerprint reads the copy
    (and, with ``execute``, the runner trains with the copy's ``fit``)."""
    source = codeprint.module_file("harbench.train")
    text = codeprint.read_source(source)  # with the edits made before
    assert old in text
    copy = tmp_path / f"train_{abs(hash(new))}.py"
    copy.write_text(text.replace(old, new, 1))
    original = codeprint.read_source
    monkeypatch.setattr(codeprint, "read_source", lambda p: original(copy if p == source else p))
    codeprint.clear()
    if execute:
        module = types.ModuleType("harbench_train_edited")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(copy.read_text(), str(copy), "exec"), module.__dict__)
        monkeypatch.setattr(runner, "fit", module.fit)


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """A suite of one run, stored by the code as it is."""
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    db = tmp_path / "r.duckdb"
    summary = coordinator.run_suite(path, db=db)
    assert (summary.ok, summary.stale) == (1, 0)
    yield path, db
    codeprint.clear()


def validate(capsys, path, db) -> tuple[str, dict]:
    assert cli.main(["validate", str(path), "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert cli.main(["validate", str(path), "--db", str(db), "--format", "json"]) == 0
    return text, json.loads(capsys.readouterr().out)


def test_a_comment_or_docstring_edit_of_the_training_loop_leaves_stored_runs_valid(
    stored, monkeypatch, tmp_path, capsys
):
    path, db = stored
    edit_train(monkeypatch, tmp_path, SHUFFLE,
               "# a new comment about shuffling\n        " + SHUFFLE + "  # and one here")
    edit_train(monkeypatch, tmp_path, '"""Train ', '"""Train (reworded docstring) ')
    text, data = validate(capsys, path, db)
    assert "different code" not in text and "1 already stored, 0 to run" in text
    assert data["stale"] == 0
    again = coordinator.run_suite(path, db=db)
    assert (again.ok, again.skipped, again.stale) == (0, 1, 0)


def test_a_result_changing_edit_of_the_training_loop_makes_runs_stale_and_run_recomputes_them(
    stored, monkeypatch, tmp_path, capsys
):
    path, db = stored
    specs = {s.run_id: s for s in suite.load(path).expand()}
    before = rows(db, "SELECT run_id, code_fingerprint FROM runs ORDER BY run_id")
    # each run stores the fingerprint of the code that computed it
    assert all(f == codeprint.for_spec(specs[r]) for r, f in before)
    losses = rows(db, "SELECT run_id, epoch, train_loss FROM curves ORDER BY run_id, epoch")
    # no shuffling: a different order of batches, so different weights and losses
    edit_train(monkeypatch, tmp_path, SHUFFLE, "order = torch.arange(n).to(X.device)",
               execute=True)

    text, data = validate(capsys, path, db)
    assert "1 stored run was computed by different code" in text
    assert "--reuse-stale" in text and "1 already stored, 1 to run" in text
    assert data["stale"] == 1 and all(r["stale"] for r in data["runs"])

    kept = coordinator.run_suite(path, db=db, reuse_stale=True)
    assert (kept.ok, kept.skipped, kept.stale) == (0, 1, 1)
    assert rows(db, "SELECT run_id, code_fingerprint FROM runs ORDER BY run_id") == before

    assert cli.main(["run", str(path), "--db", str(db), "--no-leaderboard"]) == 0
    out = capsys.readouterr().out
    assert "1 stored run was computed by different code" in out
    assert "recomputing" in out and "--reuse-stale" in out
    after = rows(db, "SELECT run_id, code_fingerprint FROM runs ORDER BY run_id")
    assert [r for r, _ in after] == [r for r, _ in before]
    assert all(f == codeprint.for_spec(specs[r]) != old for (r, f), (_, old) in zip(after, before))
    assert rows(db, "SELECT run_id, epoch, train_loss FROM curves ORDER BY run_id, epoch") != losses
    # the old results are not lost: each replaced row and its metrics are in run_history
    history = rows(db, "SELECT run_id, code_fingerprint, run, metrics FROM run_history "
                       "ORDER BY run_id")
    assert [(r, f) for r, f, _, _ in history] == before
    assert all(json.loads(run)["status"] == "ok" and "macro_f1" in json.loads(metrics)
               for _, _, run, metrics in history)

    text, data = validate(capsys, path, db)
    assert "different code" not in text and data["stale"] == 0


def test_runs_of_an_old_store_without_fingerprints_are_stale_of_unknown_code(
    stored, capsys
):
    path, db = stored
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE runs DROP COLUMN code_fingerprint")  # as stored before the column
    con.close()
    text, data = validate(capsys, path, db)
    assert "1 stored run was computed by different code (1 stored before harbench recorded " \
           "the code: unknown)" in text
    assert (data["stale"], data["stale_unknown"]) == (1, 1)
    summary = coordinator.run_suite(path, db=db)
    assert (summary.ok, summary.skipped, summary.stale) == (1, 0, 1)
    assert rows(db, "SELECT count(*) FROM run_history WHERE code_fingerprint IS NULL") == [(1,)]
    assert rows(db, "SELECT count(*) FROM runs WHERE code_fingerprint IS NOT NULL") == [(1,)]
