"""harbench's metrics equal scikit-learn's on random and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

import harbench
from harbench import metrics
from harbench.contracts import HarbenchError


def _sk(y_true, y_pred, n_classes):
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, average="macro", zero_division=0),
        "weighted_f1": f1_score(y_true, y_pred, average="weighted", zero_division=0),
        "macro_f1_all_classes": f1_score(
            y_true, y_pred, labels=list(range(n_classes)), average="macro", zero_division=0
        ),
    }


def _assert_equal_to_sklearn(y_true, y_pred, n_classes):
    ours = harbench.score(y_true, y_pred, n_classes)
    for key, expected in _sk(y_true, y_pred, n_classes).items():
        assert abs(ours[key] - expected) <= 1e-12, (key, ours[key], expected)


def test_random_cases_match_sklearn():
    rng = np.random.default_rng(1234)
    for _ in range(200):
        n_classes = int(rng.integers(2, 13))
        n = int(rng.integers(1, 300))
        # skewed label draws so that classes go missing from the truth or the predictions
        p_true = rng.dirichlet(np.full(n_classes, 0.4))
        y_true = rng.choice(n_classes, size=n, p=p_true)
        noise = rng.random(n) < rng.random()
        y_pred = np.where(noise, rng.integers(0, n_classes, size=n), y_true)
        _assert_equal_to_sklearn(y_true, y_pred, n_classes)


def test_absent_class_that_is_predicted_counts_as_zero():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 0, 1, 2])  # class 2 is predicted but never true
    ours = harbench.score(y_true, y_pred, 4)
    assert ours["per_class_f1"][2] == 0.0
    _assert_equal_to_sklearn(y_true, y_pred, 4)
    # the toy case: the old "classes present in y_true" mean gave 0.667
    toy = harbench.score(np.array([0, 0]), np.array([0, 1]), 2)
    assert toy["macro_f1"] == pytest.approx(f1_score([0, 0], [0, 1], average="macro"))
    assert toy["macro_f1"] == pytest.approx(1 / 3)


def test_class_absent_from_truth_and_predictions_does_not_count():
    y_true = np.array([0, 1, 1, 0, 2])
    y_pred = np.array([0, 1, 0, 0, 2])
    ours = harbench.score(y_true, y_pred, 5)  # classes 3 and 4 never occur
    _assert_equal_to_sklearn(y_true, y_pred, 5)
    assert ours["macro_f1_all_classes"] == pytest.approx(ours["macro_f1"] * 3 / 5)


def test_predicted_only_class_and_single_class():
    _assert_equal_to_sklearn(np.array([1, 1, 1]), np.array([1, 3, 1]), 4)
    _assert_equal_to_sklearn(np.array([2, 2, 2]), np.array([2, 2, 2]), 3)
    single = harbench.score([0, 0, 0], [0, 0, 0], 1)
    assert single["macro_f1"] == 1.0 and single["accuracy"] == 1.0


def test_pooled_equals_sklearn_on_concatenated_predictions():
    rng = np.random.default_rng(7)
    folds = []
    for _ in range(4):
        y_true = rng.integers(0, 5, size=40)
        y_pred = np.where(rng.random(40) < 0.6, y_true, rng.integers(0, 5, size=40))
        folds.append((y_true, y_pred))
    result = metrics.pooled(harbench.score(t, p, 5)["confusion"] for t, p in folds)
    all_true = np.concatenate([t for t, _ in folds])
    all_pred = np.concatenate([p for _, p in folds])
    for key, expected in _sk(all_true, all_pred, 5).items():
        assert abs(result[key] - expected) <= 1e-12, key
    mean_of_folds = np.mean([f1_score(t, p, average="macro") for t, p in folds])
    assert result["macro_f1"] != pytest.approx(mean_of_folds, abs=1e-9)


def test_bad_input_is_a_clear_error():
    with pytest.raises(HarbenchError, match="0..2"):
        harbench.score([0, 3], [0, 1], 3)
    with pytest.raises(HarbenchError, match="shape"):
        harbench.score([0, 1], [0], 3)
    with pytest.raises(HarbenchError, match="differ in shape"):
        metrics.pooled([np.zeros((2, 2)), np.zeros((3, 3))])


def test_validation_f1_for_early_stopping_uses_the_same_function():
    import torch

    from harbench.train import evaluate

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3))
    X = torch.randn(30, 2, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (30,), generator=torch.Generator().manual_seed(1))
    result = evaluate(model, X, y, 3)
    predicted = model(X).argmax(dim=1).numpy()
    assert result["macro_f1"] == pytest.approx(f1_score(y.numpy(), predicted, average="macro"))
