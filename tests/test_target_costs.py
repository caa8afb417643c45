"""Time-to-target in optimiser steps and training MACs beside seconds; noisy seconds flagged."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch
from torch import nn

from harbench.report import build
from harbench.report.runs import load_curves, load_runs
from harbench.report.targets import BACKWARD_FACTOR, TargetSetting, common_targets, epoch_counts
from harbench.store import Store
from harbench.train import TrainConfig, fit
from tests.report_store import label, result_for, spec_for

FORWARD_MACS = {"full": 1000.0, "lora": 1100.0}  # per window, the model as trained


def write(path, *, epoch_seconds, steps_in_curve=True, target_epoch_full=3):
    """full and lora(r=4) (own lr) on 6 folds; lora's epochs are half as long and take a quarter
    of full's steps; full reaches val F1 0.5 at ``target_epoch_full``, lora at epoch 2."""
    rng = random.Random(0)
    ids = []
    with Store(path) as store:
        for method, params in (("full", {}), ("lora", {"r": 4})):
            for fold in range(6):
                spec = spec_for("hapt_embedded", method, params, fold, 0)
                if method == "lora":
                    spec = dataclasses.replace(spec, training={**spec.training, "lr": 0.01})
                result = result_for(spec, 0.8, 1000, 1.0, True, rng)
                reach = target_epoch_full if method == "full" else 2
                per_epoch = 40 if method == "full" else 10
                result.curves = [
                    {"stage": "train", "epoch": e, "train_loss": 1.0, "val_loss": 1.0,
                     "val_f1": 0.6 if e >= reach else 0.3, "lr": 0.005,
                     "seconds": epoch_seconds * (1 if method == "full" else 0.5),
                     **({"steps": per_epoch, "samples": per_epoch * 64} if steps_in_curve
                        else {})}
                    for e in range(1, 6)]
                result.metrics.update({"train_forward_macs": FORWARD_MACS[method],
                                       "train_windows": per_epoch * 64})
                store.write(result, labels={"model": "tinierhar", "method": label(method, params)})
                ids.append(spec.run_id)
        store.link_suite("s", ids)
    return ids


def costs(db):
    with Store(db, read_only=True) as store:
        runs = load_runs(store, "s")
        curves = load_curves(store, [r.run_id for r in runs], stage="train")
        found = common_targets(runs, curves, TargetSetting("full", None, 0.5))
    return runs, found


def test_cost_to_target_in_steps_and_macs(tmp_path):
    db = tmp_path / "c.duckdb"
    write(db, epoch_seconds=2.0)
    runs, found = costs(db)
    full = next(found[r.run_id] for r in runs if r.method == "full")
    lora = next(found[r.run_id] for r in runs if r.method == "lora")
    assert full["steps_to_common_target"] == 3 * 40 and lora["steps_to_common_target"] == 2 * 10
    assert full["macs_to_common_target"] == BACKWARD_FACTOR * 1000.0 * 3 * 40 * 64
    assert lora["macs_to_common_target"] == BACKWARD_FACTOR * 1100.0 * 2 * 10 * 64
    assert lora["speedup_steps_to_target"] == pytest.approx(120 / 20)
    assert lora["speedup_macs_to_target"] == pytest.approx((1000 * 120) / (1100 * 20))
    assert lora["speedup_to_target"] == pytest.approx(6.0 / 2.0)
    assert full["seconds_unreliable"] == 0.0
    with Store(db, read_only=True) as store:
        board = build(store, suite="s", metric="speedup_steps_to_target", ci=True,
                      target=TargetSetting("full", None, 0.5))
    row = next(r for r in board.rows if r["method"] == "lora(r=4)")
    assert row["speedup_steps_to_target"] == pytest.approx(6.0) and row["n"] == 6
    assert row["ci_low"] == pytest.approx(6.0) and row["ci_high"] == pytest.approx(6.0)


def test_steps_of_older_curves_follow_the_training_loop(tmp_path):
    db = tmp_path / "old.duckdb"
    write(db, epoch_seconds=2.0, steps_in_curve=False)
    runs, found = costs(db)
    lora = next(found[r.run_id] for r in runs if r.method == "lora")
    assert lora["steps_to_common_target"] == 2 * 640 // 64  # train_windows / batch_size


def test_seconds_are_flagged_when_the_reference_reaches_the_target_at_once(tmp_path):
    db = tmp_path / "fast.duckdb"
    write(db, epoch_seconds=2.0, target_epoch_full=1)
    _, found = costs(db)
    assert {v["seconds_unreliable"] for v in found.values()} == {1.0}
    with Store(db, read_only=True) as store:
        board = build(store, suite="s", metric="speedup_to_target",
                      target=TargetSetting("full", None, 0.5))
    assert any(note.startswith("seconds unreliable for 12 of 12 runs") for note in board.notes)
    db2 = tmp_path / "short.duckdb"
    write(db2, epoch_seconds=0.2)  # reached at epoch 3 but in 0.6 s
    _, found = costs(db2)
    assert {v["seconds_unreliable"] for v in found.values()} == {1.0}


def test_fit_records_steps_and_windows_per_epoch_as_the_fallback_counts_them(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8 * 3, 4))
    n = 65  # two batches of 32, the last batch of one is skipped
    X, y = torch.randn(n, 8, 3), torch.randint(0, 4, (n,))
    config = TrainConfig.from_dict({"epochs": 2, "batch_size": 32, "lr": 0.01, "patience": 5})
    result = fit(model, (X, y), (X[:10], y[:10]), config, n_classes=4)
    assert [(r["steps"], r["samples"]) for r in result.curves] == [(2, 64), (2, 64)]
    db = tmp_path / "one.duckdb"
    rng = random.Random(0)
    spec = dataclasses.replace(spec_for("hapt_embedded", "full", {}, 0, 0),
                               training={"epochs": 2, "lr": 0.01, "batch_size": 32})
    stored = result_for(spec, 0.8, 10, 1.0, True, rng)
    stored.metrics["train_windows"] = n
    with Store(db) as store:
        store.write(stored, labels={"model": "tinierhar", "method": "full"})
        store.link_suite("s", [spec.run_id])
        run = load_runs(store, "s")[0]
    assert epoch_counts(run) == (2.0, 64.0)
