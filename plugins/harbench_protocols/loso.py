"""Leave one subject out: one fold per subject."""

from __future__ import annotations

from typing import Any

from harbench.contracts import DatasetPlugin, Fold, HarbenchError, ProtocolPlugin

from .common import folds_by_subject_groups


class Loso(ProtocolPlugin):
    name = "loso"
    description = "leave one subject out: each subject tests once, the others train"
    version = "1"
    params = {}

    def bind(self, dataset: DatasetPlugin, params: dict[str, Any]) -> dict[str, Any]:
        if 0 < len(dataset.subjects) < 2:
            raise HarbenchError(f"protocol loso needs two subjects; {dataset.name!r} has one")
        return dict(params)

    def fold_count(self, dataset: DatasetPlugin, params: dict[str, Any]) -> int:
        return len(dataset.subjects)

    def folds(self, windows, params: dict[str, Any]) -> list[Fold]:
        import numpy as np

        subjects = np.unique(windows.subject)
        return folds_by_subject_groups(windows, [np.array([s]) for s in subjects])
