"""Classification metrics from a confusion matrix (no scikit-learn needed)."""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix [true, predicted] of counts."""
    index = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_f1(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    denom = predicted + actual
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    return f1


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """accuracy, macro-F1 and weighted-F1 over the classes present in ``y_true``.

    Macro-F1 averages over the classes that occur in the test labels (a class absent from a
    subject's test set does not count as F1 = 0); ``per_class_f1`` lists all classes.
    """
    matrix = confusion(y_true, y_pred, n_classes)
    f1 = per_class_f1(matrix)
    support = matrix.sum(axis=1)
    present = support > 0
    total = max(1, int(support.sum()))
    return {
        "accuracy": float(np.trace(matrix) / total),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / total),
        "per_class_f1": f1.tolist(),
        "confusion": matrix.tolist(),
    }
