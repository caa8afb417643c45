"""Subject-group k-fold: the sorted subjects split into contiguous groups, each tests once."""

from __future__ import annotations

from typing import Any

from harbench.contracts import DatasetPlugin, Fold, HarbenchError, ProtocolPlugin
from harbench.settings import Param

from .common import folds_by_subject_groups


class SubjectGroups(ProtocolPlugin):
    name = "subject_groups"
    description = "subject-group k-fold: sorted subjects in `groups` contiguous groups"
    version = "1"
    params = {"groups": Param(5, "number of subject groups (folds)", min=2)}

    def bind(self, dataset: DatasetPlugin, params: dict[str, Any]) -> dict[str, Any]:
        n = len(dataset.subjects)
        if n and params["groups"] > n:
            raise HarbenchError(
                f"protocol subject_groups: groups {params['groups']} exceeds the {n} subjects "
                f"of dataset {dataset.name!r}"
            )
        return dict(params)

    def fold_count(self, dataset: DatasetPlugin, params: dict[str, Any]) -> int:
        return int(params.get("groups", 5))

    def folds(self, windows, params: dict[str, Any]) -> list[Fold]:
        import numpy as np

        groups = int(params.get("groups", 5))
        subjects = np.unique(windows.subject)
        if not 2 <= groups <= len(subjects):
            raise HarbenchError(
                f"protocol subject_groups needs 2 <= groups <= {len(subjects)} subjects, "
                f"got {groups}"
            )
        return folds_by_subject_groups(windows, list(np.array_split(subjects, groups)))
