"""Issue 20: a tuning block in suites, trials stored and resumable, equal budgets, trials scored on
validation only, the chosen configuration and the tuning cost in the leaderboard and report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from harbench import coordinator, suite
from harbench.report import html
from harbench.report.leaderboard import build as build_board
from harbench.store import Store
from harbench.suite.located import SuiteError
from harbench.tuning import studies
from tests.helpers import harbench_env, run_cli

ADAPTATION = """
name: tune
defaults:
  training: {epochs: 2, batch_size: 32, patience: 2}
  protocol: {name: subject_adaptation, targets: [1, 2]}
matrix:
  datasets: [synthetic]
  models: [{tinierhar: {hidden: 8}}]
  methods: [full, linear_probe]
tuning:
  trials: 3
  startup: 1
  dev_targets: [5]
  space:
    training.lr: {log_uniform: [1.0e-3, 3.0e-2]}
  methods:
    full:
      training.weight_decay: {categorical: [0.0, 0.01]}
"""

LOSO = """
name: tune-loso
defaults:
  training: {epochs: 2, batch_size: 32, patience: 2}
matrix:
  datasets: [{synthetic: {subjects: [1, 2, 3]}}]
  models: [{tinierhar: {hidden: 8}}]
  methods: [full]
  folds: [0]
tuning:
  trials: 2
  space:
    training.lr: {log_uniform: [1.0e-3, 3.0e-2]}
"""


def rows(db, sql):
    for _ in range(100):  # the coordinator may hold the file for a write
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            time.sleep(0.05)
            continue
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    raise AssertionError(f"{db} stayed locked")


def test_a_suite_with_a_tuning_block_validates(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(ADAPTATION)
    checked, stored = coordinator.dry_run(path, db=tmp_path / "none.duckdb")  # `validate`
    assert len(checked.specs) == 4 and not stored
    loaded = suite.loads(ADAPTATION, tmp_path / "t.yaml")
    specs = loaded.expand()
    assert len(specs) == 4  # two methods x two reported targets
    blocks = [loaded.tuning_of[s.run_id] for s in specs]
    assert {b.trials for b in blocks} == {3} and {b.dev_targets for b in blocks} == {(5,)}
    assert set(blocks[0].space_of("full")) == {"training.lr", "training.weight_decay"}
    assert set(blocks[0].space_of("linear_probe")) == {"training.lr"}
    assignment = studies.plan(specs, loaded.tuning_of)
    assert len(assignment.studies) == 2  # one per method: frozen for both reported targets
    for study in assignment.studies.values():
        (base,) = study.bases
        assert base.protocol["targets"] == [5]
        assert 1 not in base.subjects and 2 not in base.subjects  # not even as source data


@pytest.mark.parametrize("change, message", [
    ("dev_targets: [5]", "dev_targets [2] are also reported targets"),
    ("trials: 3", "expected int >= 1 and <= 1000"),
    ("log_uniform: [1.0e-3, 3.0e-2]", "a log scale needs low > 0"),
    ("training.weight_decay:", "expected training.<setting>, method.<param> or model.<param>"),
    ("    full:\n", "no parameter 'rank'"),
    ("  methods:\n", "model 'tinierhar' has no parameter 'depth'"),
])
def test_a_bad_tuning_block_is_refused_where_it_is_written(tmp_path, change, message):
    bad = {
        "dev_targets: [5]": "dev_targets: [2, 5]",
        "trials: 3": "trials: 0",
        "log_uniform: [1.0e-3, 3.0e-2]": "log_uniform: [0, 3.0e-2]",
        "training.weight_decay:": "weight_decay:",
        "    full:\n": "    full:\n      method.rank: {int: [1, 4]}\n",
        "  methods:\n": "    model.depth: {int: [1, 2]}\n  methods:\n",
    }[change]
    text = ADAPTATION.replace(change, bad, 1)
    with pytest.raises(SuiteError, match="line .*tuning") as caught:
        suite.loads(text, tmp_path / "t.yaml").expand()
    assert message in str(caught.value)


def test_methods_of_one_comparison_must_get_the_same_budget(tmp_path):
    text = ADAPTATION + "overrides:\n  - when: {method: full}\n    set: {tuning: {trials: 5}}\n"
    with pytest.raises(SuiteError, match=r"unequal tuning budgets \(full: 5, linear_probe: 3"):
        suite.loads(text, tmp_path / "t.yaml").expand()
    untuned = ADAPTATION + "overrides:\n  - when: {method: full}\n    set: {tuning: null}\n"
    with pytest.raises(SuiteError, match="full: 0, linear_probe: 3"):
        suite.loads(untuned, tmp_path / "t.yaml").expand()
    both = ADAPTATION + ("overrides:\n  - when: {dataset: synthetic}\n"
                         "    set: {tuning: {trials: 2}}\n")
    loaded = suite.loads(both, tmp_path / "t.yaml")
    assert {loaded.tuning_of[s.run_id].trials for s in loaded.expand()} == {2}


def test_a_method_that_trains_nothing_is_never_tuned_and_owes_no_budget(tmp_path):
    """`none` (trains = False) has no setting a trial could change: it joins a tuned comparison
    untuned, and the methods that train still get equal budgets."""
    text = ADAPTATION.replace("methods: [full, linear_probe]",
                              "methods: [none, full, linear_probe]")
    loaded = suite.loads(text, tmp_path / "t.yaml")
    specs = loaded.expand()
    by_method = {}
    for spec in specs:
        by_method.setdefault(spec.method, set()).add(
            None if loaded.tuning_of[spec.run_id] is None else loaded.tuning_of[spec.run_id].trials)
    assert by_method == {"none": {None}, "full": {3}, "linear_probe": {3}}
    assignment = studies.plan(specs, loaded.tuning_of)
    assert sorted(s.bases[0].method for s in assignment.studies.values()) == [
        "full", "linear_probe"]


def test_a_tuned_suite_stores_its_trials_and_reports_the_chosen_configuration(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(ADAPTATION)
    db = tmp_path / "t.duckdb"
    summary = coordinator.run_suite(path, db=db)
    assert (summary.ok, summary.failed) == (4, 0)
    trials = rows(db, "SELECT study, method, number, state, subjects, params FROM trials")
    per_method: dict[str, list[int]] = {}
    for _, method, number, _, _, _ in trials:
        per_method.setdefault(method, []).append(number)
    assert {m: sorted(n) for m, n in per_method.items()} == {"full": [0, 1, 2],
                                                             "linear_probe": [0, 1, 2]}
    for *_, subjects, _ in trials:  # every trial trained and was scored on dev target 5 only
        assert json.loads(subjects) == [5]
    tested = {s for (d,) in rows(db, "SELECT extra FROM details") for s in
              json.loads(d)["test_subjects"]}
    assert tested == {1, 2}
    configs = [json.loads(c) for (c,) in rows(db, "SELECT config FROM runs")]
    for config in configs:
        record = config["tuning"]
        assert record["trials"] == 3 and set(record["params"]) >= {"training.lr"}
        assert config["training"]["lr"] == record["params"]["training.lr"]
    best = {m: max(v for mm, v in rows(db, "SELECT method, value FROM trials "
                                           "WHERE state = 'completed'") if mm == m)
            for m in per_method}
    for method, value in best.items():
        (params,) = rows(db, f"SELECT params FROM trials WHERE method = '{method}' AND "
                             f"value = {value!r} ORDER BY number LIMIT 1")[0]
        chosen = [c["tuning"]["params"] for c in configs if c["method"] == method]
        assert chosen == [json.loads(params)] * 2  # frozen for both reported targets

    again = coordinator.run_suite(path, db=db)  # everything stored: nothing runs again
    assert (again.skipped, again.ok) == (4, 0)
    assert rows(db, "SELECT count(*) FROM trials") == [(6,)]

    env = harbench_env()
    shown = run_cli(["leaderboard", "--db", str(db), "--format", "json"], env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    board = json.loads(shown.stdout)
    assert {"chosen", "trials", "tuning_seconds", "tuning_macs", "fit_seconds"} <= set(
        board["columns"])
    assert len(board["rows"]) == 2
    for row in board["rows"]:
        assert row["method"].endswith(" tuned") and row["trials"] == 3
        assert row["chosen"].startswith("lr=") or "lr=" in row["chosen"]
        assert row["tuning_seconds"] > 0 and row["tuning_macs"] > 0
    with Store(db, read_only=True) as store:
        page = html.render(store, "tune")
        board = build_board(store, suite="tune")
        paired = build_board(store, suite="tune", against="full")
    assert ">Tuning</h2>" in page
    for row in board.rows:
        assert row["chosen"] in page
    (probe,) = [r for r in paired.rows if r["method"] == "linear_probe tuned"]
    assert probe["pairs"] == 2  # tuned with the same budget as the tuned reference: paired


def test_loso_trials_train_on_the_folds_training_part_only(tmp_path):
    path = tmp_path / "l.yaml"
    path.write_text(LOSO)
    db = tmp_path / "l.duckdb"
    summary = coordinator.run_suite(path, db=db, executor="process", workers=1)
    assert (summary.ok, summary.failed) == (1, 0)
    (extra,) = rows(db, "SELECT extra FROM details")[0]
    test_subjects = set(json.loads(extra)["test_subjects"])
    assert test_subjects == {1}
    trials = rows(db, "SELECT number, subjects FROM trials ORDER BY number")
    assert [n for n, _ in trials] == [0, 1]
    for _, subjects in trials:
        assert set(json.loads(subjects)) == {2, 3}  # the fold's training subjects


KILL = ADAPTATION.replace("trials: 3", "trials: 4").replace("epochs: 2", "epochs: 3")


def test_a_study_killed_by_sigkill_continues_without_losing_or_repeating_a_trial(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(KILL)
    db = tmp_path / "k.duckdb"
    env = harbench_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harbench", "run", str(path), "--db", str(db)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists() and _stored_trials(db) >= 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    duckdb.connect(str(db)).close()  # a writer's open replays what the kill left in the WAL
    before = rows(db, "SELECT method, number, params, finished_at FROM trials")
    assert 1 <= len(before) < 8 and rows(db, "SELECT count(*) FROM runs") == [(0,)]
    resumed = run_cli(["run", str(path), "--db", str(db)], env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = rows(db, "SELECT method, number, params, finished_at FROM trials "
                     "ORDER BY method, number")
    assert [(m, n) for m, n, *_ in after] == [(m, n) for m in ("full", "linear_probe")
                                              for n in range(4)]
    assert set(before) <= set(after)  # the stored trials kept as they were, none run again
    # the resumed study asked exactly what an uninterrupted one asks
    straight = tmp_path / "s.duckdb"
    coordinator.run_suite(path, db=straight)
    sql = "SELECT method, number, params FROM trials ORDER BY method, number"
    assert rows(straight, sql) == rows(db, sql)
    assert rows(db, "SELECT count(*) FROM runs WHERE status = 'ok'") == [(4,)]


def _stored_trials(db) -> int:
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:  # locked by the writer, or not created yet
        return 0
    try:
        return con.execute("SELECT count(*) FROM trials").fetchone()[0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


def _record(state, values, number=0):
    from harbench.tuning.storage import TrialRecord

    curve = [{"target": 0, "epoch": e, "val_f1": v} for e, v in enumerate(values, 1)]
    return TrialRecord("s", number, {}, state, max(values) if state == "completed" else None,
                       curve)


def test_pruning_thresholds_follow_the_completed_trials_curves():
    from harbench.tuning import pruning

    done = [_record("completed", [0.2, 0.5, 0.6]), _record("completed", [0.4, 0.3, 0.9]),
            _record("completed", [0.1, 0.7, 0.8]), _record("pruned", [0.05])]
    median = pruning.thresholds("median", done, startup=3)
    # best so far per epoch: [0.2, 0.5, 0.6], [0.4, 0.4, 0.9], [0.1, 0.7, 0.8]
    assert median == {1: 0.2, 2: 0.5, 3: 0.8}
    assert pruning.thresholds("median", done, startup=4) == {}  # 3 completed < startup
    assert pruning.thresholds("none", done, startup=0) == {}
    halving = pruning.thresholds("halving", done, startup=1)
    # rung epoch 1 (the only rung below 3 epochs): keep the best third of the 4 that reached it
    assert halving == {1: 0.4}


def test_a_trial_below_its_threshold_stops_there_and_is_stored_as_pruned(tmp_path):
    from harbench.tuning.trial import Trial, execute_trial

    (spec,) = suite.loads(LOSO, tmp_path / "l.yaml").expand()
    kept = execute_trial(Trial("s", 0, {}, [spec]))
    assert kept.state == "completed" and [r["epoch"] for r in kept.curve] == [1, 2]
    assert kept.value == max(r["val_f1"] for r in kept.curve) and kept.macs > 0
    pruned = execute_trial(Trial("s", 1, {}, [spec], {"1": 1.01}))  # unreachable at epoch 1
    assert pruned.state == "pruned" and [r["epoch"] for r in pruned.curve] == [1]
    assert pruned.value is None and 0 < pruned.macs < kept.macs
    assert kept.subjects == pruned.subjects == [2, 3]  # fold 0 tests subject 1


def test_score_development_needs_development_targets(tmp_path):
    text = LOSO.replace("  trials: 2\n", "  trials: 2\n  score: development\n")
    with pytest.raises(SuiteError, match="line .*tuning.*score: development scores trials on"):
        suite.loads(text, tmp_path / "l.yaml").expand()
    with pytest.raises(SuiteError, match="expected one of validation, development"):
        suite.loads(ADAPTATION.replace("  trials: 3\n", "  trials: 3\n  score: test\n"),
                    tmp_path / "t.yaml").expand()


def test_a_development_scored_trial_is_scored_on_its_development_targets_later_part(
        tmp_path, monkeypatch):
    """score: development: the trial's value is the trained model's macro-F1 on the development
    target's later part (the windows the protocol tests on, of a person never reported); the
    reported targets are nowhere in what it saw."""
    from harbench.tuning import trial as trial_module

    text = ADAPTATION.replace("  trials: 3\n", "  trials: 3\n  score: development\n")
    loaded = suite.loads(text, tmp_path / "t.yaml")
    specs = loaded.expand()
    assignment = studies.plan(specs, loaded.tuning_of)
    study = next(s for s in assignment.studies.values() if s.bases[0].method == "linear_probe")
    assert study.tuning.score == "development" and study.tuning.settings()["score"] == \
        "development"
    scored = []
    real = trial_module.development_score

    def spy(model, data, n_classes):
        value = real(model, data, n_classes)
        scored.append((sorted(set(data.windows.subject[data.test].tolist())), len(data.test),
                       value))
        return value

    monkeypatch.setattr(trial_module, "development_score", spy)
    (base,) = study.bases
    result = trial_module.execute_trial(
        trial_module.Trial(study.key, 0, {"training.lr": 0.01}, [base], score="development"))
    assert result.state == "completed", result.error
    (subjects, n_windows, value), = scored
    assert subjects == [5] and n_windows > 0  # the development target's later part
    assert result.value == value  # the score, not the best validation macro-F1
    assert not {1, 2} & set(result.subjects)  # reported targets never seen
