"""Figures draw one mark per configuration (never pooling backbones, protocols or variants),
write the numbers they draw as CSV, and state n, intervals and warnings (issue 21)."""

from __future__ import annotations

import csv
import dataclasses
import random

import pytest

from harbench.cli import main
from harbench.contracts import HarbenchError
from harbench.report import plots
from harbench.report.configs import configurations
from harbench.report.runs import load_runs
from harbench.store import Store
from tests.report_store import label, result_for, spec_for

BACKBONES = (("tinierhar", 0.0, 2_435), ("convnet1d", -0.3, 508))
METHODS = (("full", {}, 0.80, 1.0), ("lora", {}, 0.75, 0.3), ("lora", {"r": 2}, 0.70, 0.1))


def _write(db, runs, suite="s"):
    """``runs``: (spec, level, trainable) triples written as stored results."""
    rng = random.Random(5)
    ids = []
    with Store(db) as store:
        for spec, level, trainable in runs:
            result = result_for(spec, level, trainable, 1.0, True, rng)
            store.write(result, labels={"model": spec.model,
                                        "method": label(spec.method, spec.method_params)})
            ids.append(spec.run_id)
        store.link_suite(suite, ids)
    return db


def _spec(dataset, model, method, params, fold, seed, **protocol):
    spec = spec_for(dataset, method, params, fold, seed)
    changes = {"model": model}
    if protocol:
        changes["protocol"] = protocol
    return dataclasses.replace(spec, **changes)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plots.pyplot().close("all")


@pytest.fixture(scope="module")
def two_backbones(tmp_path_factory):
    """One dataset x 2 backbones x 3 methods (lora at its default r=8 and lora r=2) x 2 x 2."""
    runs = [(_spec("pamap2", model, method, params, fold, seed), level + shift, int(size * share))
            for model, shift, size in BACKBONES for method, params, level, share in METHODS
            for fold in (0, 1) for seed in (0, 1)]
    return _write(tmp_path_factory.mktemp("fig") / "b.duckdb", runs)


def test_pareto_of_two_backbones_and_three_methods_draws_six_marks_and_six_csv_rows(
        two_backbones, tmp_path):
    with Store(two_backbones, read_only=True) as store:
        fig = plots.pareto_figure(store, "s")
    ax = fig.axes[0]
    marks = [c for c in ax.containers if not c.get_label().startswith("_")]
    assert len(marks) == 6  # one per backbone x method, never a mean over backbones
    labels = sorted(c.get_label() for c in marks)
    assert "convnet1d · lora(r=8) (n=2)" in labels and "tinierhar · lora(r=2) (n=2)" in labels
    paths = plots.save(fig, tmp_path / "pareto")
    assert [p.suffix for p in paths] == [".png", ".svg", ".csv"]
    with paths[2].open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert {r["backbone"] for r in rows} == {"tinierhar", "convnet1d"}
    assert {r["method"] for r in rows} == {"full", "lora(r=8)", "lora(r=2)"}
    # each mark is its own configuration's mean: convnet1d is 0.3 below tinierhar for every method
    by = {(r["backbone"], r["method"]): float(r["y"]) for r in rows}
    assert by[("tinierhar", "full")] - by[("convnet1d", "full")] == pytest.approx(0.3, abs=0.03)
    assert all(r["n"] == "2" and r["y_ci_low"] and r["y_ci_high"] for r in rows)


def test_configurations_use_the_leaderboards_key_and_name_the_default_rank(two_backbones):
    with Store(two_backbones, read_only=True) as store:
        runs = load_runs(store, "s")
    configs = configurations(runs)
    assert len(configs) == 6 and all(len(c.runs) == 4 for c in configs)
    assert all(c.show_model for c in configs)  # two backbones share the panel


def test_plot_command_writes_the_csv_beside_the_image(two_backbones, tmp_path, capsys):
    stem = tmp_path / "out" / "front"
    assert main(["plot", "pareto", "--db", str(two_backbones), "--suite", "s",
                 "--output", str(stem)]) == 0
    assert "front.csv" in capsys.readouterr().out
    text = (stem.parent / "front.csv").read_text()
    assert text.splitlines()[0].startswith("figure,dataset,protocol,backbone,method")
    assert len(text.splitlines()) == 7


def test_several_protocols_are_faceted_and_the_cd_diagram_refuses_them(tmp_path):
    runs = []
    for dataset in ("pamap2", "mhealth"):
        for protocol in ({"name": "subject_groups", "groups": 4}, {"name": "loso"}):
            for method, params, level, share in METHODS:
                for fold in (0, 1):
                    runs.append((_spec(dataset, "tinierhar", method, params, fold, 0,
                                       **protocol), level, int(1000 * share)))
    db = _write(tmp_path / "p.duckdb", runs)
    with Store(db, read_only=True) as store:
        fig = plots.pareto_figure(store, "s")
        titles = sorted(ax.get_title() for ax in fig.axes if ax.get_visible())
        assert titles == ["mhealth · loso", "mhealth · subject_groups", "pamap2 · loso",
                          "pamap2 · subject_groups"]
        assert all(len(ax.containers) == 3 for ax in fig.axes if ax.get_visible())
        with pytest.raises(HarbenchError, match="--protocol"):
            plots.cd_figure(store, "s")
        fig = plots.cd_figure(store, "s", protocol="loso")
    assert any("only 2 datasets" in w for w in plots.figure_warnings(fig))


def test_curves_carry_a_stopped_runs_best_value_forward_and_count_runs_per_epoch(tmp_path):
    rng = random.Random(1)
    db = tmp_path / "c.duckdb"
    with Store(db) as store:
        ids = []
        for fold, epochs, best in ((0, 6, 6), (1, 3, 2)):
            spec = spec_for("pamap2", "full", {}, fold, 0)
            result = result_for(spec, 0.8, 100, 1.0, True, rng)
            result.curves = [{"stage": "train", "epoch": e, "train_loss": 1.0 / e,
                              "val_loss": 1.0, "val_f1": 0.1 * e + fold, "lr": 0.01,
                              "seconds": 1.0} for e in range(1, epochs + 1)]
            result.metrics["best_epoch"] = best
            store.write(result, labels={"method": "full"})
            ids.append(spec.run_id)
        store.link_suite("c", ids)
    with Store(db, read_only=True) as store:
        fig = plots.curves_figure(store, "c")
    rows = [r for r in plots.figure_data(fig) if r["panel"] == "train:val_f1"]
    at = {r["x"]: r for r in rows}
    # fold 1 stopped after epoch 3 and kept epoch 2 (val_f1 1.2): carried from epoch 4 on
    assert at[5]["y"] == pytest.approx((0.5 + 1.2) / 2)
    assert at[3]["y"] == pytest.approx((0.3 + 1.3) / 2)
    assert (at[3]["n_training"], at[4]["n_training"], at[4]["n"]) == (2, 1, 2)
    assert "carries its best epoch" in fig._suptitle.get_text()


def test_confusion_prints_counts_and_support_and_refuses_too_many_panels(two_backbones):
    with Store(two_backbones, read_only=True) as store:
        fig = plots.confusion_figure(store, "s", method="full")
        ax = fig.axes[0]
        rows = plots.figure_data(fig)
        support = {r["true"]: r["support"] for r in rows if r["panel"] == ax.get_title()}
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert ticks[0] == f"walk ({support['walk']:,})"
        counts = {t.get_text() for t in ax.texts}
        assert {f"{r['count']:,}" for r in rows if r["panel"] == ax.get_title()} <= counts
        with pytest.raises(HarbenchError, match="--dataset or --method"):
            plots.confusion_figure(store, "s", limit=4)


def test_a_cd_diagram_on_three_datasets_warns_loudly(tmp_path_factory):
    from tests.report_store import demo_store

    with Store(demo_store(tmp_path_factory), read_only=True) as store:
        fig = plots.cd_figure(store, "demo")
    (warning,) = plots.figure_warnings(fig)
    assert "only 3 datasets (fewer than 5)" in warning
    assert any(t.get_text().startswith("WARNING") and t.get_color() == "#b00000"
               for t in fig.texts)
