"""Helpers shared by the subject-wise protocols."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from harbench.contracts import DatasetPlugin, Fold, HarbenchError

if TYPE_CHECKING:  # numpy is imported where folds are cut, not when the plugin registers
    import numpy as np


def folds_by_subject_groups(windows, groups: Sequence[np.ndarray]) -> list[Fold]:
    """One fold per group of test subjects; every other subject trains."""
    import numpy as np

    folds = []
    for i, test_subjects in enumerate(groups):
        is_test = np.isin(windows.subject, test_subjects)
        label = ",".join(str(s) for s in test_subjects)
        folds.append(Fold(f"{i}:{label}", np.flatnonzero(~is_test), np.flatnonzero(is_test)))
    return folds


def check_subjects(
    dataset: DatasetPlugin, listed: Iterable[int], what: str, *, leave_one: bool = True
) -> list[int]:
    """``listed`` as ints, refused unless every one is a subject of ``dataset`` (and, with
    ``leave_one``, unless at least one subject of the dataset is left out of them)."""
    listed = list(listed)
    known = set(dataset.subjects)
    unknown = [s for s in listed if s not in known]
    if unknown:
        raise HarbenchError(
            f"{what} {unknown} are not subjects of dataset {dataset.name!r} "
            f"(its subjects: {', '.join(str(s) for s in sorted(known))})"
        )
    if leave_one and known and set(listed) >= known:
        raise HarbenchError(f"{what} list every subject of {dataset.name!r}: none is left to train")
    return listed
