"""The data of one run: its windows, fold, training/validation/test/source parts and z-score.

Nothing here trains; the runner and the pretraining stage both start from :func:`prepare`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harbench.contracts import HarbenchError
from harbench.data.load import load_windows
from harbench.data.normalise import ZScore
from harbench.data.protocols import make_folds, training_parts
from harbench.data.windows import Windows
from harbench.spec import RunSpec


@dataclass
class RunData:
    """The windows of one run and which of them train, validate, test and pretrain.

    ``labelled`` and ``val`` obey the label budget; ``source`` are the windows a pretraining
    stage may use (the protocol's source subjects, else ``train``: never a test or validation
    subject); ``norm`` is fitted on ``source``. ``held_out``: windows of source subjects the
    protocol kept out of ``source`` to measure forgetting on (empty when none).
    """

    windows: Windows
    fold: Any
    train: np.ndarray
    val: np.ndarray
    labelled: np.ndarray
    test: np.ndarray
    source: np.ndarray
    norm: ZScore
    held_out: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def normalised(self, index: np.ndarray) -> np.ndarray:
        return self.norm.apply(np.asarray(self.windows.X[index]))


def _windows(spec: RunSpec) -> Windows:
    subjects = getattr(spec, "subjects", None)
    if subjects:
        return load_windows(spec.dataset, subjects=subjects, **spec.window)
    return load_windows(spec.dataset, **spec.window)


def prepare(spec: RunSpec) -> RunData:
    """Split the spec's dataset into the run's parts (no training; windows come from the cache)."""
    windows = _windows(spec)
    folds = make_folds(windows, spec.protocol)
    if spec.fold >= len(folds):
        raise HarbenchError(
            f"fold {spec.fold} does not exist: the protocol yields {len(folds)} folds"
        )
    fold = folds[spec.fold]
    train_idx, val_idx, labelled_idx = training_parts(windows, fold, spec.training, spec.seed)
    if len(labelled_idx) == 0 or len(val_idx) == 0 or len(fold.test) == 0:
        raise HarbenchError(f"fold {fold.name} leaves an empty train, validation or test set")
    source = getattr(fold, "source", None)
    has_source = source is not None and len(source) > 0
    source_idx = np.asarray(source) if has_source else train_idx
    norm = ZScore.fit(np.asarray(windows.X[source_idx]))
    held = getattr(fold, "held_out", None)
    held_idx = np.asarray(held if held is not None else [], dtype=np.int64)
    if has_source and len(np.intersect1d(held_idx, source_idx)):
        raise HarbenchError(f"fold {fold.name}: held-out source windows are also in the source")
    return RunData(windows, fold, train_idx, val_idx, labelled_idx, np.asarray(fold.test),
                   source_idx, norm, held_idx)
