"""Is a dataset on disk whole? Missing files, subjects and classes against what it declares."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harbench.contracts import DatasetPlugin, Recording

SHOWN = 8  # names listed before "... and N more"


def missing_parts(
    plugin: DatasetPlugin,
    root: Path,
    recordings: Sequence[Recording] | None,
    subjects: Sequence[int] | None = None,
) -> list[str]:
    """One sentence per thing missing: files ``files(root, subjects)`` lists that do not exist,
    declared (or asked-for) subjects without a recording, declared classes without a labelled
    sample (checked on the whole dataset only: a subset of people may lack an activity).
    ``recordings`` None (the dataset did not load): files only."""
    problems = []
    if not plugin.embedded:
        absent = [p for p in plugin.files(root, subjects) if not Path(p).exists()]
        if absent:
            names = [relative_name(Path(p), root) for p in absent]
            problems.append(f"{len(absent)} file(s) missing: {_listing(names)}")
    if recordings is None:
        return problems
    wanted = list(subjects) if subjects is not None else list(plugin.subjects)
    present = {int(r.subject) for r in recordings}
    lacking = [s for s in wanted if s not in present]
    if lacking:
        problems.append(
            f"{len(lacking)} of {len(wanted)} {'asked-for' if subjects else 'declared'} "
            f"subjects have no recording: {_listing([str(s) for s in lacking])}"
        )
    if subjects is None and plugin.classes:
        seen: set[int] = set()
        for rec in recordings:
            labels = np.asarray(rec.labels)
            seen.update(int(v) for v in np.unique(labels[labels >= 0]))
        absent_classes = [c for i, c in enumerate(plugin.classes) if i not in seen]
        if absent_classes:
            problems.append(
                f"{len(absent_classes)} of {len(plugin.classes)} declared classes have no "
                f"labelled sample: {_listing(absent_classes)}"
            )
    return problems


def complete_subjects(plugin: DatasetPlugin, root: Path) -> list[int]:
    """The declared subjects all of whose files (``files(root, [s])``) are on disk."""
    return [
        s for s in plugin.subjects if all(Path(p).exists() for p in plugin.files(root, [s]))
    ]


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    more = len(names) - SHOWN
    return shown + (f" ... and {more} more" if more > 0 else "")


def relative_name(path: Path, root: Path) -> str:
    """``path`` as written in messages: relative to ``root`` where it lies under it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
