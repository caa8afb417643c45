"""Each figure on a small stored suite, the Pareto front and the Friedman/post-hoc statistics."""

from __future__ import annotations

import numpy as np
import pytest
import scikit_posthocs as sp

from harbench.contracts import HarbenchError
from harbench.report import plots, statistics
from harbench.store import Store
from tests.report_store import CLASSES, demo_store

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_store(tmp_path_factory)


def _labels(fig):
    return [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes if ax.get_visible()]


@pytest.mark.parametrize(
    ("kind", "options", "expected"),
    [
        ("pareto", {"cost": "params"}, ("trainable parameters", "macro-F1")),
        ("pareto", {"cost": "memory"}, ("training peak memory (MB)", "macro-F1")),
        ("pareto", {"cost": "time"}, ("fit time (s)", "macro-F1")),
        ("sweep", {"param": "r"}, ("r", "macro-F1")),
        ("cd", {}, ("average rank (1 = best)", "")),
        ("curves", {}, ("epoch", "validation macro-F1")),
        ("confusion", {"dataset": "pamap2"}, ("predicted class", "true class (support)")),
    ],
)
def test_each_figure_has_its_axes_and_writes_png_and_svg(demo, tmp_path, kind, options, expected):
    with Store(demo, read_only=True) as store:
        fig = plots.figure(kind, store, "demo", **options)
    assert expected in _labels(fig)
    paths = plots.save(fig, tmp_path / kind)
    png = paths[0].read_bytes()
    assert paths[0].suffix == ".png" and png.startswith(PNG) and len(png) > 5000
    assert paths[1].suffix == ".svg" and "<svg" in paths[1].read_text()[:500]
    assert paths[2].suffix == ".csv" and len(paths[2].read_text().splitlines()) > 1


def test_pareto_has_one_panel_per_dataset_and_draws_the_front(demo):
    with Store(demo, read_only=True) as store:
        fig = plots.pareto_figure(store, "demo")
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_visible())
    assert titles == ["hapt_embedded", "mhealth", "pamap2"]
    front = [line for line in fig.axes[0].lines if line.get_label() == "non-dominated front"]
    # demo levels: bitfit 171 params, lora r=2, lora r=8, full on the front; linear_probe is not
    assert list(front[0].get_xdata()) == [171, 1500, 5251, 40000]


def test_curves_include_pretraining_panels(demo):
    with Store(demo, read_only=True) as store:
        fig = plots.curves_figure(store, "demo", dataset="mhealth")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert "mhealth — pretrain: training loss" in titles
    assert "mhealth — train: validation macro-F1" in titles


def test_confusion_uses_class_names_and_rows_sum_to_one(demo):
    with Store(demo, read_only=True) as store:
        fig = plots.confusion_figure(store, "demo", dataset="pamap2", method="full")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    image = ax.get_images()[0].get_array()
    assert np.allclose(np.asarray(image).sum(axis=1), 1.0)


def test_pareto_front_of_a_hand_made_set():
    points = [(10, 0.5), (20, 0.7), (15, 0.4), (30, 0.7), (5, 0.3), (25, 0.9), (25, 0.8)]
    # (15,.4) dominated by (10,.5); (30,.7) by (20,.7) and (25,.9); (25,.8) by (25,.9)
    assert statistics.pareto_front(points) == [4, 0, 1, 5]
    assert statistics.pareto_front([(1, 1), (1, 1)]) == [0, 1]  # ties dominate neither


def test_friedman_statistic_equals_the_textbook_formula_and_the_libraries():
    table = [[0.90, 0.85, 0.80, 0.70], [0.88, 0.86, 0.79, 0.75], [0.91, 0.83, 0.84, 0.72],
             [0.87, 0.88, 0.81, 0.70], [0.92, 0.84, 0.80, 0.71]]
    result = statistics.friedman_posthoc(table, ["a", "b", "c", "d"])
    n, k = len(table), 4
    ranks = {"a": (1 + 1 + 1 + 2 + 1) / 5, "b": (2 + 2 + 3 + 1 + 2) / 5,
             "c": (3 + 3 + 2 + 3 + 3) / 5, "d": 4.0}
    chi2 = 12 * n / (k * (k + 1)) * sum(r ** 2 for r in ranks.values()) - 3 * n * (k + 1)
    assert result.average_ranks == pytest.approx(ranks)
    assert result.statistic == pytest.approx(chi2)
    expected = sp.posthoc_nemenyi_friedman(np.asarray(table))
    assert np.allclose(result.pairwise_p, np.asarray(expected))


def test_cd_refuses_fewer_than_three_methods():
    with pytest.raises(HarbenchError, match="at least 3 methods"):
        statistics.friedman_posthoc([[0.9, 0.8], [0.7, 0.6]], ["a", "b"])


def test_cd_figure_prints_the_test_and_alpha(demo):
    with Store(demo, read_only=True) as store:
        fig = plots.cd_figure(store, "demo", alpha=0.1)
    title = fig.axes[0].get_title()
    assert "Friedman" in title and "nemenyi" in title and "alpha = 0.1" in title


def test_sweep_on_an_unknown_setting_names_what_varies(demo):
    with Store(demo, read_only=True) as store, pytest.raises(HarbenchError, match="vary"):
        plots.sweep_figure(store, "demo", param="nosuch")


def test_sweep_over_the_label_budget_has_one_point_per_budget(tmp_path):
    import random

    from tests.report_store import label, result_for, spec_for

    db, rng, ids = tmp_path / "b.duckdb", random.Random(3), []
    with Store(db) as store:
        for method, params in (("full", {}), ("lora", {"r": 4})):
            for budget in (5, 10, 20):
                for fold in (0, 1):
                    spec = spec_for("pamap2", method, params, fold, 0, budget=budget)
                    store.write(result_for(spec, 0.5 + budget / 100, 1000, 1.0, True, rng),
                                labels={"method": label(method, params)})
                    ids.append(spec.run_id)
        store.link_suite("budgets", ids)
    with Store(db, read_only=True) as store:
        fig = plots.sweep_figure(store, "budgets", param="per_class")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "budget.per_class"
    lines = {c.get_label(): c for c in ax.containers}
    assert set(lines) == {"full (n=2)", "lora(r=4) (n=2)"}
    xs = sorted(ax.lines[0].get_xdata())
    assert xs == [5, 10, 20]
