"""Classification metrics from a confusion matrix, following scikit-learn's conventions.

Conventions (each key is what the store holds under that name):

- ``macro_f1``: scikit-learn's ``f1_score(average="macro")``: the mean F1 over the classes that
  occur in the true *or* the predicted labels (a class predicted but absent counts as F1 = 0;
  a class neither true nor predicted does not count).
- ``macro_f1_all_classes``: the mean F1 over all the dataset's ``n_classes`` classes, a class
  neither true nor predicted counting as F1 = 0.
- ``weighted_f1``: scikit-learn's ``f1_score(average="weighted")`` (weights = true support).
- ``accuracy``: correct / total.
- ``balanced_accuracy``: scikit-learn's ``balanced_accuracy_score``: the mean recall over the
  classes that occur in the true labels (a class only predicted does not count).
- ``macro_f1_seen`` (:func:`macro_f1_seen`): ``macro_f1`` restricted to the classes present in
  the run's training (adaptation) windows, i.e. scikit-learn's ``f1_score(average="macro",
  labels=L)`` with L = those classes that occur in the true or the predicted labels. It differs
  from ``macro_f1`` only when a test class has no training window, e.g. a class that
  ``subject_adaptation`` could not split (named in the run's details as ``unsplit_classes``).
- pooled scores (:func:`pooled`): the same keys computed on the sum of several folds'
  confusion matrices, i.e. on all folds' predictions together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from harbench.contracts import HarbenchError


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix [true, predicted] of counts."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise HarbenchError(
            f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}"
        )
    bad = (y_true < 0) | (y_true >= n_classes) | (y_pred < 0) | (y_pred >= n_classes)
    if bad.any():
        raise HarbenchError(f"labels must lie in 0..{n_classes - 1}; found one outside")
    index = y_true * n_classes + y_pred
    return np.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_f1(matrix: np.ndarray) -> np.ndarray:
    """F1 of each class (0 for a class neither true nor predicted)."""
    tp = np.diag(matrix).astype(np.float64)
    denom = (matrix.sum(axis=0) + matrix.sum(axis=1)).astype(np.float64)
    f1 = np.zeros_like(tp)
    np.divide(2 * tp, denom, out=f1, where=denom > 0)
    return f1


def from_confusion(matrix: np.ndarray | Sequence[Sequence[int]]) -> dict:
    """accuracy, balanced_accuracy, macro_f1, macro_f1_all_classes, weighted_f1, per_class_f1,
    confusion."""
    matrix = np.asarray(matrix, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise HarbenchError(f"a confusion matrix must be square, got shape {matrix.shape}")
    f1 = per_class_f1(matrix)
    support = matrix.sum(axis=1)
    seen = (support + matrix.sum(axis=0)) > 0  # true or predicted: scikit-learn's label set
    total = int(support.sum())
    present = support > 0
    recall = np.diag(matrix)[present] / support[present]
    return {
        "accuracy": float(np.trace(matrix) / total) if total else 0.0,
        "balanced_accuracy": float(recall.mean()) if present.any() else 0.0,
        "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
        "macro_f1_all_classes": float(f1.mean()) if len(f1) else 0.0,
        "weighted_f1": float((f1 * support).sum() / total) if total else 0.0,
        "per_class_f1": f1.tolist(),
        "confusion": matrix.tolist(),
    }


def macro_f1_seen(
    matrix: np.ndarray | Sequence[Sequence[int]], seen: Iterable[int]
) -> float:
    """Macro-F1 over the classes in ``seen`` (indices) that occur in the true or predicted labels
    of ``matrix``; 0.0 when none does."""
    matrix = np.asarray(matrix, dtype=np.int64)
    mask = np.zeros(matrix.shape[0], dtype=bool)
    mask[[int(c) for c in seen]] = True
    mask &= (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    return float(per_class_f1(matrix)[mask].mean()) if mask.any() else 0.0


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """The metrics of one prediction set (see the module docstring for each convention)."""
    return from_confusion(confusion(y_true, y_pred, n_classes))


def score(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
          n_classes: int) -> dict:
    """Public API: the metrics harbench stores for predictions ``y_pred`` of labels ``y_true``."""
    return scores(np.asarray(y_true), np.asarray(y_pred), int(n_classes))


def pooled(confusions: Iterable[np.ndarray | Sequence[Sequence[int]]]) -> dict:
    """The metrics of all folds' predictions together: scores of the summed confusion matrices."""
    matrices = [np.asarray(m, dtype=np.int64) for m in confusions]
    if not matrices:
        raise HarbenchError("pooled() needs at least one confusion matrix")
    shapes = {m.shape for m in matrices}
    if len(shapes) != 1:
        raise HarbenchError(f"confusion matrices differ in shape: {sorted(shapes)}")
    return from_confusion(np.sum(matrices, axis=0))
