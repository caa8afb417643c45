"""Evaluation protocols: which windows train and which test, fold by fold.

Every protocol splits by subject (never by overlapping windows of one subject), except
``window_kfold``, kept for single-subject datasets, which splits contiguous blocks of windows.
Validation windows are always drawn from the training side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harbench.contracts import HarbenchError
from harbench.data.windows import Windows


@dataclass(frozen=True)
class Fold:
    name: str
    train: np.ndarray  # window indices
    test: np.ndarray


def _by_subject_groups(windows: Windows, groups: list[np.ndarray]) -> list[Fold]:
    folds = []
    for i, test_subjects in enumerate(groups):
        is_test = np.isin(windows.subject, test_subjects)
        label = ",".join(str(s) for s in test_subjects)
        folds.append(Fold(f"{i}:{label}", np.flatnonzero(~is_test), np.flatnonzero(is_test)))
    return folds


def loso(windows: Windows) -> list[Fold]:
    """Leave one subject out: one fold per subject."""
    subjects = np.unique(windows.subject)
    return _by_subject_groups(windows, [np.array([s]) for s in subjects])


def subject_groups(windows: Windows, groups: int = 5) -> list[Fold]:
    """Subject-group k-fold: sorted subjects split into ``groups`` contiguous groups."""
    subjects = np.unique(windows.subject)
    if not 2 <= groups <= len(subjects):
        raise HarbenchError(
            f"protocol subject_groups needs 2 <= groups <= {len(subjects)} subjects, got {groups}"
        )
    return _by_subject_groups(windows, list(np.array_split(subjects, groups)))


def fixed(windows: Windows, test_subjects: list[int] | None = None) -> list[Fold]:
    """The official split: the listed subjects test, all others train (one fold)."""
    if not test_subjects:
        raise HarbenchError("protocol fixed needs test_subjects: [...]")
    return _by_subject_groups(windows, [np.array(test_subjects)])[:1]


def window_kfold(windows: Windows, k: int = 5) -> list[Fold]:
    """k contiguous blocks of windows (for single-subject datasets); a leak-prone last resort."""
    blocks = np.array_split(np.arange(len(windows)), k)
    return [
        Fold(f"{i}:block", np.setdiff1d(np.arange(len(windows)), b), b)
        for i, b in enumerate(blocks)
    ]


PROTOCOLS: dict[str, Callable[..., list[Fold]]] = {
    "loso": loso,
    "subject_groups": subject_groups,
    "fixed": fixed,
    "window_kfold": window_kfold,
}


def make_folds(windows: Windows, protocol: dict[str, Any]) -> list[Fold]:
    """All folds of ``protocol`` ({name: ..., **params}) on ``windows``."""
    # "scheme" names how the cell was formed (e.g. lodo); it does not change the folds.
    params = {k: v for k, v in protocol.items() if k not in ("name", "folds", "scheme")}
    name = protocol.get("name", "loso")
    if name not in PROTOCOLS:
        raise HarbenchError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    try:
        return PROTOCOLS[name](windows, **params)
    except TypeError as exc:
        raise HarbenchError(f"protocol {name!r}: {exc}") from None


def validation_split(
    windows: Windows, train: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out whole training subjects (about ``fraction`` of them) for validation.

    With a single training subject, the last ``fraction`` of its windows (contiguous) is held out.
    """
    subjects = np.unique(windows.subject[train])
    if len(subjects) >= 2:
        n_val = min(len(subjects) - 1, max(1, round(fraction * len(subjects))))
        rng = np.random.default_rng(seed)
        val_subjects = rng.choice(subjects, size=n_val, replace=False)
        is_val = np.isin(windows.subject[train], val_subjects)
        return train[~is_val], train[is_val]
    n_val = max(1, int(round(fraction * len(train))))
    return train[:-n_val], train[-n_val:]


def label_budget(
    windows: Windows,
    train: np.ndarray,
    *,
    per_class: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Keep ``per_class`` labelled windows per class, or ``fraction`` of each class, seeded."""
    if (per_class is None) == (fraction is None):
        raise HarbenchError("budget needs exactly one of per_class or fraction")
    rng = np.random.default_rng(seed)
    kept = []
    for c in np.unique(windows.y[train]):
        members = train[windows.y[train] == c]
        n = per_class if per_class is not None else max(1, int(round(fraction * len(members))))
        kept.append(rng.choice(members, size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(kept)) if kept else train[:0]
