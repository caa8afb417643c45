"""Inference over independent units: seeds averaged per (dataset, fold), pairs formed by the one
pairing rule (a method's own lr does not unpair it), bootstrap intervals, Holm, too few units."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest
from scipy import stats

from harbench.cli import main
from harbench.report import build, pairing, statistics, targets
from harbench.report.runs import load_runs
from harbench.store import Store
from tests.report_store import label, result_for, spec_for

PEFT_LR = 0.01  # the PEFT methods' own learning rate, as the repro suites set it


def write_store(path, methods, *, folds=range(6), seeds=(0, 1), suite="peft", budget=None):
    """methods: (name, params, F1 level, own lr or None); the F1 of each run moves by fold and
    seed so units and seeds differ."""
    rng = random.Random(3)
    ids = []
    with Store(path) as store:
        for name, params, level, lr in methods:
            for fold in folds:
                for seed in seeds:
                    spec = spec_for("hapt_embedded", name, params, fold, seed,
                                    budget=budget.get(name) if budget else None)
                    if lr is not None:
                        spec = dataclasses.replace(spec, training={**spec.training, "lr": lr})
                    unit_level = level + 0.03 * fold + 0.02 * seed
                    result = result_for(spec, unit_level, 1000, 1.0, True, rng)
                    store.write(result, labels={"model": "tinierhar",
                                                "method": label(name, params)})
                    ids.append(spec.run_id)
        store.link_suite(suite, ids)
    return ids


PEFT = [("full", {}, 0.80, None), ("lora", {"r": 4}, 0.76, PEFT_LR),
        ("bitfit", {}, 0.70, PEFT_LR), ("linear_probe", {}, 0.79, PEFT_LR)]


def test_leaderboard_against_full_pairs_methods_with_their_own_lr(tmp_path, capsys):
    db = tmp_path / "peft.duckdb"
    write_store(db, PEFT)
    assert main(["leaderboard", "--db", str(db), "--suite", "peft", "--against", "full",
                 "--format", "json"]) == 0
    board = json.loads(capsys.readouterr().out)
    rows = {r["method"]: r for r in board["rows"]}
    tested = [rows[m] for m in ("lora(r=4)", "bitfit", "linear_probe")]
    for row in tested:
        assert row["pairs"] == 6 and row["n"] == 6 and row["seeds"] == "2"
        assert row["p"] is not None and row["p_holm"] is not None
        assert row["diff_ci_low"] < row["vs_full"] < row["diff_ci_high"]
    assert rows["full"]["p"] is None and rows["full"]["test_note"] == "the reference"
    # Holm over the three methods tested against full
    ps = [row["p"] for row in tested]
    order = np.argsort(ps)
    expected, running = [0.0] * 3, 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * ps[index]))
        expected[index] = running
    assert [row["p_holm"] for row in tested] == pytest.approx(expected)
    assert any("Holm" in note for note in board["notes"])


def test_two_seeds_of_one_target_are_one_unit(tmp_path):
    db = tmp_path / "units.duckdb"
    write_store(db, PEFT[:2])
    with Store(db, read_only=True) as store:
        board = build(store, suite="peft", against="full", test="ttest")
        runs = load_runs(store, "peft")
    lora = next(r for r in board.rows if r["method"] == "lora(r=4)")
    assert lora["n"] == 6 and lora["pairs"] == 6  # 12 runs, 6 units

    def unit_means(method):
        out = {}
        for run in runs:
            if run.method == method:
                out.setdefault(run.fold, []).append(run.metrics["macro_f1"])
        return {fold: sum(v) / len(v) for fold, v in out.items()}

    mine, ref = unit_means("lora"), unit_means("full")
    diffs = [mine[f] - ref[f] for f in sorted(mine)]
    assert lora["macro_f1"] == pytest.approx(sum(mine.values()) / 6)
    assert lora["std"] == pytest.approx(stats.tstd(list(mine.values())))
    assert lora["vs_full"] == pytest.approx(sum(diffs) / 6)
    assert lora["p"] == pytest.approx(stats.ttest_rel([mine[f] for f in sorted(mine)],
                                                      [ref[f] for f in sorted(mine)]).pvalue)
    expected = stats.bootstrap((np.sort(diffs),), np.mean, n_resamples=9999, method="BCa",
                               **_generator(0))
    assert (lora["diff_ci_low"], lora["diff_ci_high"]) == pytest.approx(
        (expected.confidence_interval.low, expected.confidence_interval.high))


def _generator(seed):
    import inspect

    name = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    return {name: np.random.default_rng(seed)}


def test_fewer_than_five_units_give_no_p_value_but_an_interval(tmp_path):
    db = tmp_path / "few.duckdb"
    write_store(db, PEFT[:2], folds=range(3))
    with Store(db, read_only=True) as store:
        board = build(store, suite="peft", against="full")
    lora = next(r for r in board.rows if r["method"] == "lora(r=4)")
    assert lora["pairs"] == 3 and lora["p"] is None and lora["p_holm"] is None
    assert lora["test_note"] == "too few units (n < 5) for a test"
    assert lora["diff_ci_low"] is not None and lora["diff_ci_low"] <= lora["diff_ci_high"]


def test_a_pair_that_cannot_be_formed_says_why(tmp_path):
    db = tmp_path / "unpaired.duckdb"
    write_store(db, PEFT[:2], budget={"lora": 5})
    with Store(db, read_only=True) as store:
        board = build(store, suite="peft", against="full")
    lora = next(r for r in board.rows if r["method"] == "lora(r=4)")
    assert lora["pairs"] == 0 and lora["vs_full"] is None
    assert lora["test_note"].startswith("no pair: 'full' differs in training.budget")


def test_units_without_a_reference_run_are_counted(tmp_path):
    db = tmp_path / "partial.duckdb"
    write_store(db, PEFT[:2])
    with Store(db) as store:  # full lost its runs on fold 5
        store.query("DELETE FROM suite_runs WHERE run_id IN (SELECT run_id FROM runs "
                    "WHERE method = 'full' AND fold = 5)")
    with Store(db, read_only=True) as store:
        board = build(store, suite="peft", against="full")
    lora = next(r for r in board.rows if r["method"] == "lora(r=4)")
    assert lora["n"] == 6 and lora["pairs"] == 5 and lora["p"] is not None
    assert lora["test_note"] == "1 of 6 units without a 'full' run"


def test_time_to_target_and_paired_tests_share_one_pairing_rule(tmp_path):
    db = tmp_path / "rule.duckdb"
    write_store(db, PEFT[:2], folds=(0,), seeds=(0,))
    with Store(db, read_only=True) as store:
        full, lora = sorted(load_runs(store, "peft"), key=lambda r: r.method)
    assert full.config["training"]["lr"] != lora.config["training"]["lr"]
    assert targets.comparison_key(full) == targets.comparison_key(lora)
    assert pairing.pairing_key(full) == pairing.pairing_key(lora)
    assert targets.comparison_key(full) == pairing.pairing_key(full) + (("seed", 0),)


def test_holm_and_geometric_mean_by_hand():
    assert statistics.holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert statistics.holm([0.5, 0.9]) == [1.0, 1.0]
    estimate = statistics.geometric_estimate([2.0, 0.5, 1.0, 4.0, 0.25])
    assert estimate.value == pytest.approx(1.0) and estimate.n == 5
    assert estimate.ci_low < 1.0 < estimate.ci_high
    assert statistics.bootstrap_interval([0.3]) is None
    assert statistics.bootstrap_interval([0.3, 0.3, 0.3]) == (0.3, 0.3)
