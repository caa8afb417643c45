"""Adaptation to a new person: one fold per target subject.

The source is every other subject (the data a pretraining stage may use: ``Fold.source``). The
target subject's windows are split in time, per class, into an adaptation part (the first
``adapt_fraction`` of each class's windows, in recording order, but at least ``min_per_class``)
and a test part (the rest). Test windows that share a sample with an adaptation window are
dropped, so the two parts are at least one window apart and no window straddles both. The fold
trains on the adaptation part only: the label budget and the validation split of a run are drawn
from it, and the validation carve leaves every class ``min_per_class`` training windows.

A class too short for that (fewer than ``min_per_class`` adaptation windows plus one test window
apart from them) is *unsplit*: all its windows test, it is never adapted to, and the run's
details name it (``unsplit_classes``); ``macro_f1_seen`` scores only the classes adapted to.
"""

from __future__ import annotations

from typing import Any

from harbench.contracts import DatasetPlugin, Fold, HarbenchError, ProtocolPlugin
from harbench.settings import Param

from .common import check_subjects


class SubjectAdaptation(ProtocolPlugin):
    name = "subject_adaptation"
    description = "a source model (other subjects) adapted to each target subject's first data"
    version = "2"  # 2: min_per_class, unsplit classes test only, validation keeps training windows
    source_part = True  # every fold's source: the other subjects
    params = {
        "targets": Param(None, "target subjects, one fold each; null = every subject", kind="list"),
        "adapt_fraction": Param(
            0.5,
            "share of each class's time (from its start) used to adapt; the rest tests",
            min=0,
            min_exclusive=True,
            max=1,
            max_exclusive=True,
        ),
        "min_per_class": Param(
            2,
            "adaptation windows every class keeps (after validation is carved); a class that "
            "cannot keep them and a test window is not adapted to (named in the run's details)",
            min=1,
        ),
    }

    def bind(self, dataset: DatasetPlugin, params: dict[str, Any]) -> dict[str, Any]:
        if 0 < len(dataset.subjects) < 2:
            raise HarbenchError(
                f"protocol subject_adaptation needs a source: {dataset.name!r} has one subject"
            )
        targets = params.get("targets")
        if targets is not None:
            if not targets or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in targets
            ):
                raise HarbenchError(f"expected a non-empty list of subject ids, got {targets!r}")
            check_subjects(dataset, targets, "targets", leave_one=False)
        return dict(params)

    def fold_count(self, dataset: DatasetPlugin, params: dict[str, Any]) -> int:
        targets = params.get("targets")
        return len(targets) if targets is not None else len(dataset.subjects)

    def folds(self, windows, params: dict[str, Any]) -> list[Fold]:
        import numpy as np

        from harbench.data import protocols

        targets = params.get("targets")
        if targets is None:
            targets = [int(s) for s in np.unique(windows.subject)]
        fraction = float(params.get("adapt_fraction", 0.5))
        min_per_class = int(params.get("min_per_class", 2))
        folds = []
        for i, target in enumerate(targets):
            own = np.flatnonzero(windows.subject == target)
            if len(own) == 0:
                raise HarbenchError(f"protocol subject_adaptation: subject {target} has no windows")
            if not protocols.has_times(windows):
                raise HarbenchError(
                    "protocol subject_adaptation needs the start sample of every window "
                    "(Windows.start); these windows have none"
                )
            adapt, test, unsplit = protocols.split_target(
                windows, own, fraction, min_per_class=min_per_class
            )
            if len(adapt) == 0:
                raise HarbenchError(
                    f"protocol subject_adaptation: no class of subject {target} has "
                    f"min_per_class={min_per_class} adaptation windows and a test window apart "
                    f"from them; lower min_per_class or adapt_fraction"
                )
            source = np.flatnonzero(windows.subject != target)
            notes = {"unsplit_classes": [windows.classes[c] for c in unsplit]}
            folds.append(Fold(f"{i}:{target}", adapt, test, source=source,
                              min_per_class=min_per_class, notes=notes))
        return folds
