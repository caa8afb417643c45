"""A fixed split: the listed subjects test, all others train (one fold).

Without ``test_subjects`` the dataset's official split is used (e.g. UCI-HAR's 9 test subjects).
"""

from __future__ import annotations

from typing import Any

from harbench.contracts import DatasetPlugin, Fold, HarbenchError, ProtocolPlugin
from harbench.settings import Param

from .common import check_subjects, folds_by_subject_groups


class Fixed(ProtocolPlugin):
    name = "fixed"
    description = "one fold: the listed (or the dataset's official) test subjects"
    version = "1"
    params = {
        "test_subjects": Param(
            None, "subjects that test; null = the dataset's official split", kind="list"
        )
    }

    def bind(self, dataset: DatasetPlugin, params: dict[str, Any]) -> dict[str, Any]:
        test = params.get("test_subjects")
        if not test:
            split = dataset.official_split or {}
            test = split.get("test_subjects")
            if not test:
                raise HarbenchError(
                    f"protocol fixed needs test_subjects: dataset {dataset.name!r} has no "
                    "official split"
                )
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in test):
            raise HarbenchError(f"protocol fixed: test_subjects must be integers, got {test!r}")
        return {**params, "test_subjects": check_subjects(dataset, test, "test_subjects")}

    def fold_count(self, dataset: DatasetPlugin, params: dict[str, Any]) -> int:
        return 1

    def folds(self, windows, params: dict[str, Any]) -> list[Fold]:
        import numpy as np

        test = params.get("test_subjects")
        if not test:
            raise HarbenchError("protocol fixed needs test_subjects: [...]")
        return folds_by_subject_groups(windows, [np.array(test)])
