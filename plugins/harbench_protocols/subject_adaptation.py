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

Forgetting: ``forget_subjects`` (default 2; 0 disables it) source subjects are held out of the
source (``Fold.held_out``): no pretraining stage and no z-score sees them; their windows score
the source model and the adapted (merged) model, and the run stores ``forgetting``, the drop in
macro-F1 in points. The rule is deterministic and the same for every fold where it can be: the
highest-numbered subjects that are no target of the protocol; when too few are left (every
subject a target), the highest-numbered other targets make up the number, never the fold's own
target. The run's details name them (``forget_subjects``). Two subjects keep the held-out score
from resting on one person while taking little from the source (2 of 29 HAPT subjects).
"""

from __future__ import annotations

from typing import Any

from harbench.contracts import DatasetPlugin, Fold, HarbenchError, ProtocolPlugin
from harbench.settings import Param

from .common import check_subjects

FORGET_RULE = ("the {n} highest-numbered subjects that are no target (then the highest other "
               "targets, never the fold's own), kept out of pretraining and the z-score")


class SubjectAdaptation(ProtocolPlugin):
    name = "subject_adaptation"
    description = "a source model (other subjects) adapted to each target subject's first data"
    # 2: min_per_class, unsplit classes test only, validation keeps training windows
    # 3: forget_subjects held out of the source (the source model changes)
    version = "3"
    source_part = True  # every fold's source: the other subjects (less the held-out ones)
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
        "forget_subjects": Param(
            2,
            "source subjects held out of pretraining and normalisation, to measure forgetting "
            "(the highest-numbered non-target subjects); 0: none, no forgetting measured",
            min=0,
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
        forget = int(params.get("forget_subjects", 2))
        if dataset.subjects and len(dataset.subjects) - 1 - forget < 1:
            raise HarbenchError(
                f"protocol subject_adaptation: forget_subjects={forget} leaves no source subject "
                f"to pretrain on ({dataset.name!r} has {len(dataset.subjects)} subjects, one of "
                "them the target); lower forget_subjects (0 disables it)"
            )
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
        forget = int(params.get("forget_subjects", 2))
        subjects = [int(s) for s in np.unique(windows.subject)]
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
            held = held_out_subjects(subjects, targets, target, forget)
            is_held = np.isin(windows.subject, held)
            source = np.flatnonzero((windows.subject != target) & ~is_held)
            if len(source) == 0:
                raise HarbenchError(
                    f"protocol subject_adaptation: forget_subjects={forget} leaves no source "
                    f"window for target {target}; lower forget_subjects (0 disables it)"
                )
            notes = {"unsplit_classes": [windows.classes[c] for c in unsplit],
                     "forget_subjects": held, "forget_rule": FORGET_RULE.format(n=forget)}
            folds.append(Fold(f"{i}:{target}", adapt, test, source=source,
                              min_per_class=min_per_class, notes=notes,
                              held_out=np.flatnonzero(is_held)))
        return folds


def held_out_subjects(subjects: list[int], targets: list[int], target: int,
                      count: int) -> list[int]:
    """The ``count`` source subjects held out of the source of ``target``'s fold (sorted): the
    highest-numbered subjects that are no target, then, when too few, the highest-numbered other
    targets; never ``target`` itself."""
    if count <= 0:
        return []
    others = [s for s in sorted(subjects) if s != target]
    chosen = [s for s in others if s not in targets][-count:]
    missing = count - len(chosen)
    if missing > 0:
        chosen += [s for s in others if s in targets][-missing:]
    return sorted(chosen)
