"""k contiguous blocks of windows: for single-subject datasets, a leak-prone last resort."""

from __future__ import annotations

from typing import Any

from harbench.contracts import DatasetPlugin, Fold, ProtocolPlugin
from harbench.settings import Param


class WindowKFold(ProtocolPlugin):
    name = "window_kfold"
    description = "k contiguous blocks of windows (single-subject datasets)"
    # 2: a single subject's validation windows are the last part of each class, one window apart
    # from the training windows (harbench.data.protocols.validation_split)
    # 3: validation windows that share a sample with a training window are dropped (before, the
    # training windows were), and every class keeps at least one training window
    version = "3"
    params = {"k": Param(5, "number of blocks (folds)", min=2)}

    def fold_count(self, dataset: DatasetPlugin, params: dict[str, Any]) -> int:
        return int(params.get("k", 5))

    def folds(self, windows, params: dict[str, Any]) -> list[Fold]:
        import numpy as np

        everything = np.arange(len(windows))
        blocks = np.array_split(everything, int(params.get("k", 5)))
        return [
            Fold(f"{i}:block", np.setdiff1d(everything, b), b) for i, b in enumerate(blocks)
        ]
