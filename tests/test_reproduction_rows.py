"""Reproduction rows: one per named variant (never pooled), n units, an interval and a verdict
decided from it; the resolution of the test sets; proxies labelled; steps and MACs beside
seconds."""

from __future__ import annotations

import dataclasses
import random
import shutil

import pytest

from harbench.report.reproduction import markdown, reproduction
from harbench.store import Store
from tests.report_store import CLASSES, label, result_for, spec_for

SHARE = {  # variant -> trainable share without the head, as a rank/ablation gives it
    (("rank", 1),): 0.0144, (("rank", 2),): 0.0120,
    (("rank", 2), ("train_all_cores", True)): 0.0710, (("init", "random"), ("rank", 2)): 0.0120,
}
LORA_EDGE_VARIANTS = [dict(key) for key in SHARE]


def write_lora_edge(path, *, folds=range(6), seeds=(0, 1), test_per_class=60, suite=None,
                    variants=LORA_EDGE_VARIANTS):
    """full and the lora_edge ``variants`` (own lr) on ``folds`` x ``seeds``; the gap to full is
    about 1 point; ``test_per_class`` test windows of each class in every run's confusion."""
    rng = random.Random(5)
    ids = []
    with Store(path) as store:
        for method, params in [("full", {})] + [("lora_edge", p) for p in variants]:
            for fold in folds:
                for seed in seeds:
                    spec = spec_for("hapt_embedded", method, params, fold, seed)
                    if method != "full":
                        spec = dataclasses.replace(spec, training={**spec.training, "lr": 0.01})
                    level = 0.80 + 0.01 * fold - (0.01 if method != "full" else 0.0)
                    result = result_for(spec, level, 100, 1.0, True, rng)
                    result.metrics.update({"train_windows": 640, "train_forward_macs": 1e6})
                    if method != "full":
                        result.metrics["trainable_share_no_head"] = SHARE[
                            tuple(sorted(params.items()))]
                    k = len(CLASSES)
                    result.details["confusion"] = [
                        [test_per_class if i == j else 0 for j in range(k)] for i in range(k)]
                    store.write(result, labels={"model": "tinierhar",
                                                "method": label(method, params)})
                    ids.append(spec.run_id)
        store.link_suite(suite or "repro-lora-edge-hapt", ids)
    return ids


@pytest.fixture(scope="module")
def lora_edge_store(tmp_path_factory):
    """Six units x two seeds of full and four LoRA-Edge variants (read-only use)."""
    db = tmp_path_factory.mktemp("repro") / "e.duckdb"
    write_lora_edge(db)
    return db


def rows_of(db, claim):
    with Store(db, read_only=True) as store:
        return {r.variant: r for r in reproduction(store) if r.claim == claim}


def test_one_share_row_per_variant_with_its_own_verdict(lora_edge_store):
    rows = rows_of(lora_edge_store, "trainable share, head excluded")
    assert sorted(rows) == ["lora_edge(init=random,rank=2)", "lora_edge(rank=1)",
                            "lora_edge(rank=2)", "lora_edge(rank=2,train_all_cores=True)"]
    by_share = {r.measured: r for r in rows.values()}
    assert by_share["1.44%"].verdict == "agrees"  # rank 1 inside <= 1.49%
    assert by_share["7.10%"].verdict == "contradicts"  # train_all_cores: its own row
    assert all(r.n_units == 6 and r.seeds == "2" and r.runs == 12 for r in rows.values())
    assert all(r.why for r in rows.values())  # "why it differs" shown on agreeing rows too


def test_gap_rows_per_variant_with_units_interval_and_verdict(lora_edge_store):
    rows = rows_of(lora_edge_store, "macro-F1 gap full - LoRA-Edge (points)")
    assert len(rows) == 4
    for row in rows.values():
        assert row.n_units == 6 and row.interval.startswith("[")
        low, high = row.values["ci_low"], row.values["ci_high"]
        assert low <= row.values["measured"] <= high
        assert row.verdict == "agrees"  # about 1 point, interval far below 4.7
        assert "accuracy gap" in row.also and row.proxy
    text = markdown(list(rows.values()))
    assert text.count("| repro-lora-edge-hapt | macro-F1 gap") == 4


def test_a_test_set_too_small_to_resolve_the_claim_is_inconclusive(tmp_path):
    db = tmp_path / "small.duckdb"
    # one window of a class moves macro-F1 by 1/6
    write_lora_edge(db, test_per_class=1, variants=LORA_EDGE_VARIANTS[:1])
    rows = rows_of(db, "macro-F1 gap full - LoRA-Edge (points)")
    for row in rows.values():
        assert row.values["one_window"] == pytest.approx(100 / 6)
        assert row.verdict == "inconclusive" and "resolves 16.7 at best" in row.reason


def test_fewer_than_five_units_are_inconclusive(tmp_path):
    db = tmp_path / "few.duckdb"
    write_lora_edge(db, folds=range(3), variants=LORA_EDGE_VARIANTS[1:3])
    rows = rows_of(db, "macro-F1 gap full - LoRA-Edge (points)")
    assert {r.verdict for r in rows.values()} == {"inconclusive"}
    assert all(r.n_units == 3 and "fewer than 5" in r.reason for r in rows.values())
    shares = rows_of(db, "trainable share, head excluded")  # exact counts need no 5 units
    assert {r.verdict for r in shares.values()} == {"agrees", "contradicts"}


def test_speedup_rows_give_steps_and_macs_and_flag_noisy_seconds(lora_edge_store, tmp_path):
    db = tmp_path / "s.duckdb"
    shutil.copy(lora_edge_store, db)
    rows = rows_of(db, "speed-up to the common target vs full")
    assert len(rows) == 4
    for row in rows.values():
        assert "steps to target" in row.also and "MACs to target" in row.also
        # report_store curves: 1 s epochs, full reaches 0.95 x its best at epoch 6, so the
        # seconds are reliable; lora_edge with the same curve shape reaches it at epoch 6 too
        assert row.n_units == 6
    with Store(db) as store:  # every method reaches the target in its first epoch
        store.query("UPDATE curves SET val_f1 = 0.9")
    rows = rows_of(db, "speed-up to the common target vs full")
    for row in rows.values():
        assert row.verdict == "inconclusive" and "seconds unreliable in 6 of 6 units" in row.reason


def test_memory_from_rss_is_labelled_a_proxy(tmp_path):
    db = tmp_path / "m.duckdb"
    rng = random.Random(2)
    ids = []
    with Store(db) as store:
        for method, params in (("full", {}), ("lora", {"r": 2}), ("lora", {"r": 8})):
            for fold in range(5):
                spec = spec_for("hapt_embedded", method, params, fold, 0)
                result = result_for(spec, 0.8, 1000 if method == "lora" else 40000, 1.0, True,
                                    rng)
                store.write(result, labels={"model": "tinierhar", "method": label(method, params)})
                ids.append(spec.run_id)
        store.link_suite("repro-lora-qlora-mae-hapt", ids)
    memory = rows_of(db, "GPU memory LoRA / full")
    assert sorted(memory) == ["lora(r=2)", "lora(r=8)"]  # one row per rank
    assert all("RSS" in r.proxy and "measured on cpu, the paper on a GPU" in r.proxy
               for r in memory.values())
    params = rows_of(db, "trainable parameters LoRA / full")
    assert {r.measured for r in params.values()} == {"0.03"}
    assert all(r.verdict == "contradicts" for r in params.values())


def test_a_baseline_that_trains_nothing_pairs_with_a_tuned_reference(tmp_path):
    """`none` is never tuned; full is (12 trials): the gap row still pairs them unit by unit, and
    no variant name carries the tuning study's hash."""
    rng = random.Random(3)
    db = tmp_path / "b.duckdb"
    ids = []
    with Store(db) as store:
        for method, level in (("full", 0.80), ("none", 0.70)):
            for fold in range(5):
                spec = spec_for("hapt_embedded", method, {}, fold, 0)
                if method == "full":
                    spec = dataclasses.replace(spec, tuning={
                        "study": f"s{fold}", "family": "fam", "trials": 12,
                        "params": {"training.lr": 0.001}, "label": "full"})
                result = result_for(spec, level, 0 if method == "none" else 100, 1.0, True, rng)
                store.write(result, labels={"model": "tinierhar", "method": spec.method_label})
                ids.append(spec.run_id)
        store.link_suite("repro-lora-edge-hapt", ids)
    with Store(db, read_only=True) as store:
        rows = [r for r in reproduction(store) if "no adaptation" in r.claim]
    (row,) = rows
    assert row.variant == "none" and row.n_units == 5
    assert 8.0 < row.values["measured"] < 12.0  # about 0.80 - 0.70, in points


def test_qlora_gets_its_own_f1_gap_row_per_rank_and_budget(tmp_path):
    """The MAE paper claims QLoRA matches full fine-tuning too: one gap row per QLoRA rank and
    label budget, never pooled with LoRA's."""
    db = tmp_path / "q.duckdb"
    rng = random.Random(4)
    ids = []
    with Store(db) as store:
        for method, params in (("full", {}), ("lora", {"r": 8}), ("qlora", {"r": 8}),
                               ("qlora", {"r": 16})):
            for fold in range(5):
                spec = spec_for("hapt_embedded", method, params, fold, 0)
                level = 0.80 - (0.03 if params.get("r") == 16 else 0.0)
                result = result_for(spec, level, 1000, 1.0, True, rng)
                store.write(result, labels={"model": "mae", "method": label(method, params)})
                ids.append(spec.run_id)
        store.link_suite("repro-lora-qlora-mae-hapt", ids)
    gaps = rows_of(db, "macro-F1 gap full - QLoRA (points)")
    assert sorted(gaps) == ["qlora(r=16)", "qlora(r=8)"]
    assert all(row.n_units == 5 for row in gaps.values())
    assert gaps["qlora(r=16)"].values["measured"] > gaps["qlora(r=8)"].values["measured"] + 1.0
    assert sorted(rows_of(db, "macro-F1 gap full - LoRA (points)")) == ["lora(r=8)"]
