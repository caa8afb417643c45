"""Leaderboard grouping, statistics, common time-to-target, formatting and reproduction rows."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from scipy import stats

from harbench.contracts import HarbenchError
from harbench.report import build, markdown_table, statistics
from harbench.report.formatting import fmt_number
from harbench.report.reproduction import CLAIMS, markdown, reproduction
from harbench.report.runs import load_curves, load_runs
from harbench.report.targets import TargetSetting, common_targets
from harbench.store import Store
from tests.report_store import demo_store, label, result_for, spec_for


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_store(tmp_path_factory)


def _write(path, rows, suite="s"):
    """rows: (method, params, level, learns, budget, fold, seed, model, device)."""
    rng = random.Random(1)
    ids = []
    with Store(path) as store:
        for method, params, level, learns, budget, fold, seed, *rest in rows:
            model = rest[0] if rest else "tinierhar"
            spec = spec_for("hapt_embedded", method, params, fold, seed, budget=budget)
            spec = dataclasses.replace(spec, model=model)
            result = result_for(spec, level, 1000, 1.0, learns, rng,
                                device=rest[1] if len(rest) > 1 else "cpu")
            store.write(result, labels={"model": model, "method": label(method, params)})
            ids.append(spec.run_id)
        store.link_suite(suite, ids)
    return ids


def test_leaderboard_groups_by_configuration_and_averages_over_folds_and_seeds(demo):
    with Store(demo, read_only=True) as store:
        board = build(store, suite="demo")
    assert board.columns[:3] == ["dataset", "model", "method"]
    assert len(board.rows) == 3 * 5  # datasets x configurations
    # 2 folds x 2 seeds: two units (seeds are averaged within a fold first), two seeds each
    assert all(row["n"] == 2 and row["seeds"] == "2" for row in board.rows)
    lora8 = [r for r in board.rows if r["method"] == "lora(r=8)" and r["dataset"] == "pamap2"]
    with Store(demo, read_only=True) as store:
        runs = [r for r in load_runs(store, "demo")
                if r.method_label == "lora(r=8)" and r.dataset == "pamap2"]
    units = [sum(r.metrics["macro_f1"] for r in runs if r.fold == f) / 2 for f in (0, 1)]
    assert lora8[0]["macro_f1"] == pytest.approx(sum(units) / 2)
    assert lora8[0]["std"] == pytest.approx(stats.tstd(units))
    first = [r["method"] for r in board.rows if r["dataset"] == "hapt_embedded"]
    assert first[0] == "full" and first[-1] == "linear_probe"  # best first


def test_a_budget_sweep_gives_one_row_per_budget(tmp_path):
    db = tmp_path / "b.duckdb"
    _write(db, [("lora", {"r": 4}, 0.5 + b / 100, True, b, f, 0)
                for b in (5, 10, 20) for f in (0, 1)])
    with Store(db, read_only=True) as store:
        board = build(store, suite="s")
    assert "config" in board.columns  # only the budget varies: versions etc. stay out of it
    assert sorted(r["config"] for r in board.rows) == [
        "budget.per_class=10", "budget.per_class=20", "budget.per_class=5"]
    assert all(r["n"] == 2 for r in board.rows)


def test_a_budget_sweep_with_every_window_says_budget_all_not_none(tmp_path):
    """A null budget (every window) beside per-class budgets: the row says `budget=all`, and no
    row shows both the budget and its keys ("budget=none budget.per_class=5" misled)."""
    db = tmp_path / "b.duckdb"
    _write(db, [("lora", {"r": 4}, 0.5, True, b, f, 0) for b in (5, None) for f in (0, 1)])
    with Store(db, read_only=True) as store:
        board = build(store, suite="s")
    assert sorted(r["config"] for r in board.rows) == ["budget.per_class=5", "budget=all"]


def test_a_budget_of_another_kind_is_not_called_all():
    """Budgets of two kinds and none: each run names its own kind, and only the run without a
    budget says `budget=all`."""
    from types import SimpleNamespace

    from harbench.report.configs import config_label

    keys = ["training.budget", "training.budget.fraction", "training.budget.per_class"]
    runs = [{"training.budget.per_class": 5}, {"training.budget.fraction": 0.1},
            {"training.budget": None}, {}]
    labels = [config_label(SimpleNamespace(flat_config=lambda f=f: f), keys) for f in runs]
    assert labels == ["budget.per_class=5", "budget.fraction=0.1", "budget=all", "budget=all"]


def test_methods_of_different_plugin_versions_still_share_a_comparison_group(demo):
    with Store(demo, read_only=True) as store:
        board = build(store, suite="demo", against="full")
    assert "config" not in board.columns  # method versions differ only between methods
    lora = next(r for r in board.rows if r["method"] == "lora(r=2)")
    assert lora["pairs"] == 2 and lora["vs_full"] is not None  # two folds = two units
    assert lora["p"] is None and lora["test_note"] == statistics.TOO_FEW_UNITS


def test_two_versions_of_one_method_are_two_rows(tmp_path):
    db = tmp_path / "v.duckdb"
    _write(db, [("full", {}, 0.8, True, None, f, 0) for f in (0, 1)])
    with Store(db) as store:  # a newer release of the method, stored beside the old runs
        store.query("UPDATE runs SET config = json_merge_patch(config, "
                    "'{\"versions\": {\"method\": \"2\"}}') WHERE fold = 0")
    with Store(db, read_only=True) as store:
        board = build(store)
    assert sorted(r["config"] for r in board.rows) == ["versions.method=1", "versions.method=2"]
    assert [r["n"] for r in board.rows] == [1, 1]


def test_unknown_suite_is_an_error_with_did_you_mean(demo):
    with Store(demo, read_only=True) as store, pytest.raises(HarbenchError) as err:
        build(store, suite="dmeo")
    assert "did you mean 'demo'" in str(err.value)


def test_confidence_interval_and_paired_test_against_reference(tmp_path):
    db = tmp_path / "ci.duckdb"  # 5 folds x 2 seeds: five units, enough for a test
    _write(db, [(m, {}, level, True, None, f, seed) for m, level in (("full", 0.8), ("bitfit", 0.7))
                for f in range(5) for seed in (0, 1)])
    with Store(db, read_only=True) as store:
        board = build(store, suite="s", ci=True, against="full", test="ttest")
        runs = load_runs(store, "s")

    def units(method):
        return [sum(r.metrics["macro_f1"] for r in runs if r.method == method and r.fold == f) / 2
                for f in range(5)]

    row = next(r for r in board.rows if r["method"] == "bitfit")
    a, b = units("bitfit"), units("full")
    assert row["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert row["p_holm"] == pytest.approx(row["p"])  # one method tested: Holm changes nothing
    assert row["vs_full"] == pytest.approx(sum(a) / 5 - sum(b) / 5)
    assert row["pairs"] == 5 and row["n"] == 5
    half = stats.t.ppf(0.975, 4) * stats.tstd(a) / math.sqrt(5)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((sum(a) / 5 - half, sum(a) / 5 + half))
    full_row = next(r for r in board.rows if r["method"] == "full")
    assert full_row["p"] is None


def test_wilcoxon_matches_scipy():
    a, b = [0.8, 0.82, 0.79, 0.85, 0.81, 0.84], [0.78, 0.80, 0.80, 0.81, 0.77, 0.80]
    result = statistics.paired_test(a, b, "wilcoxon")
    assert result.p_value == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert statistics.paired_test([0.5, 0.5], [0.5, 0.5]).p_value is None


def test_a_method_that_never_learns_never_reaches_the_common_target(tmp_path):
    db = tmp_path / "t.duckdb"
    _write(db, [(m, {}, 0.8, learns, None, f, 0)
                for m, learns in (("full", True), ("frozen", False)) for f in (0, 1)])
    with Store(db, read_only=True) as store:
        runs = load_runs(store, "s")
        curves = load_curves(store, [r.run_id for r in runs], stage="train")
        found = common_targets(runs, curves, TargetSetting("full", 0.95))
        board = build(store, suite="s", metric="speedup_to_target")
    frozen = [found[r.run_id] for r in runs if r.method == "frozen"]
    assert all(f["time_to_common_target_s"] is None and f["speedup_to_target"] is None
               for f in frozen)
    full = [found[r.run_id] for r in runs if r.method == "full"]
    # the target is 0.95 of full's best val F1 (0.8 * (1 - e^-4)); reached at epoch 6
    best = 0.8 * (1 - math.exp(-4.0))
    assert full[0]["common_target_f1"] == pytest.approx(0.95 * best)
    assert full[0]["epochs_to_common_target"] == 6 and full[0]["time_to_common_target_s"] == 6.0
    row = next(r for r in board.rows if r["method"] == "frozen")
    assert row["n"] == 0 and row["not_reached"] == 2


def test_speedup_is_reference_time_over_method_time(tmp_path):
    db = tmp_path / "s.duckdb"
    rows = [("full", {}, 0.8, True, None, 0, 0), ("lora", {"r": 4}, 0.8, True, None, 0, 0)]
    _write(db, rows)
    with Store(db) as store:  # lora's epochs take half as long
        store.query("UPDATE curves SET seconds = 0.5 WHERE run_id IN (SELECT run_id FROM runs "
                    "WHERE method = 'lora')")
    with Store(db, read_only=True) as store:
        board = build(store, suite="s", metric="speedup_to_target",
                      target=TargetSetting("full", None, 0.5))
    row = next(r for r in board.rows if r["method"] == "lora(r=4)")
    assert row["speedup_to_target"] == pytest.approx(2.0)


def test_target_setting_reads_the_suite_block_and_refuses_both():
    assert TargetSetting.from_options(None, None, None, {"reference": "lora", "f1": 0.7}) == \
        TargetSetting("lora", None, 0.7)
    assert TargetSetting.from_options("full", 0.9, None, {"f1": 0.7}).fraction == 0.9
    with pytest.raises(HarbenchError):
        TargetSetting.from_options(None, None, None, {"fraction": 0.9, "f1": 0.7})
    with pytest.raises(HarbenchError):
        TargetSetting.from_options(None, 1.5, None)


def test_numbers_are_formatted_one_way():
    assert fmt_number("trainable_params", 171.0) == "171"
    assert fmt_number("trainable_params", 5251) == "5,251"
    assert fmt_number("macro_f1", 0.91234) == "0.912"
    assert fmt_number("trainable_share", 0.0149) == "1.49%"
    assert fmt_number("speedup_to_target", 2.345) == "2.35x"
    assert fmt_number("macs", None) == "-"
    text = markdown_table(["method", "macro_f1", "std", "trainable_params"],
                          [["a", 0.9, 0.01, 171.0], ["b", 0.8, 0.02, 5251.0]], metric="macro_f1")
    assert "| a | 0.900 ± 0.010 | 171 |" in text and "| b | 0.800 ± 0.020 | 5,251 |" in text


def test_reproduction_rows_compare_claims_with_the_store(tmp_path):
    db = tmp_path / "r.duckdb"
    rows = [(m, {}, 0.8, True, None, f, 0, model)
            for model in ("tinierhar", "tinyhar", "deepconvlstm") for m in ("full",)
            for f in (0, 1)]
    _write(db, rows, suite="repro-tinierhar-hapt")
    with Store(db) as store:  # params as counted for one dataset shape
        for model, params in (("tinierhar", 1000), ("tinyhar", 2700), ("deepconvlstm", 60000)):
            store.query("UPDATE metrics SET value = ? WHERE name = 'params' AND run_id IN "
                        "(SELECT run_id FROM runs WHERE model = ?)", [params, model])
    with Store(db, read_only=True) as store:
        found = reproduction(store)
    by_claim = {r.claim: r for r in found}
    ratio = by_claim["parameters TinyHAR / TinierHAR"]
    assert ratio.measured == "2.70" and ratio.agrees and ratio.runs == 2 and ratio.n_units == 2
    deep = by_claim["parameters DeepConvLSTM / TinierHAR"]
    assert deep.measured == "60.0" and deep.verdict == "contradicts" and deep.why
    arena = by_claim["tinierhar macro-F1 on hapt_embedded (whar-arena)"]
    assert arena.published == "0.814 ± 0.050" and arena.device == "cpu"
    assert "## Bian et al. 2025 (TinierHAR)" in markdown(found)
    assert all(c.suite_prefix.startswith("repro-") for c in CLAIMS)


def test_lora_edge_claims_use_share_without_head_gap_and_common_target(tmp_path):
    db = tmp_path / "e.duckdb"
    rows = [(m, {}, level, True, None, f, 0) for m, level in (("full", 0.80), ("lora_edge", 0.77))
            for f in (0, 1)]
    _write(db, rows, suite="repro-lora-edge-hapt")
    with Store(db) as store:
        store.query("INSERT INTO metrics SELECT run_id, 'trainable_share_no_head', 0.012 FROM runs "
                    "WHERE method = 'lora_edge'")
        store.query("UPDATE curves SET seconds = 0.5 WHERE run_id IN (SELECT run_id FROM runs "
                    "WHERE method = 'lora_edge')")
    with Store(db, read_only=True) as store:
        found = {r.claim: r for r in reproduction(store)}
    share = found["trainable share, head excluded"]
    assert share.measured == "1.20%" and share.agrees and share.published == "<= 1.49%"
    gap = found["macro-F1 gap full - LoRA-Edge (points)"]
    assert gap.values["measured"] == pytest.approx(3.0, abs=1.5)
    assert gap.verdict == "inconclusive" and "fewer than 5" in gap.reason  # two units
    # target 0.95 x full's best = 0.95 x 0.8 x (1 - e^-4) = 0.746: full reaches it at epoch 6
    # (6 x 1 s); lora_edge, with a lower plateau, only at epoch 7 (7 x 0.5 s)
    speed = found["speed-up to the common target vs full"]
    assert speed.values["measured"] == pytest.approx(6.0 / (7 * 0.5))


def test_a_method_with_its_own_learning_rate_stays_in_the_comparison_group(tmp_path):
    """Suites tune lr per method (overrides); the common target must still be shared, while a
    different label budget is a different comparison."""
    from harbench.report.targets import comparison_key

    base = spec_for("hapt_embedded", "full", {}, 0, 0)
    tuned = dataclasses.replace(
        spec_for("hapt_embedded", "lora", {"r": 4}, 0, 0),
        training={**base.training, "lr": 0.01, "patience": 3},
    )
    budgeted = spec_for("hapt_embedded", "lora", {"r": 4}, 0, 0, budget=5)
    rng = random.Random(0)
    db = tmp_path / "g.duckdb"
    with Store(db) as store:
        for spec in (base, tuned, budgeted):
            store.write(result_for(spec, 0.8, 1000, 1.0, True, rng),
                        labels={"model": "tinierhar", "method": spec.method})
        store.link_suite("g", [base.run_id, tuned.run_id, budgeted.run_id])
    with Store(db, read_only=True) as store:
        runs = {r.run_id: r for r in load_runs(store, "g")}
    keys = {rid: comparison_key(run) for rid, run in runs.items()}
    assert keys[base.run_id] == keys[tuned.run_id]
    assert keys[base.run_id] != keys[budgeted.run_id]
