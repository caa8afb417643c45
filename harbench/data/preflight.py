"""Before any run: are the raw files that a suite's runs and pretraining stages read on disk?

A run reads its own dataset (restricted to ``subjects`` where the matrix says so) and, under a
protocol that pools datasets (LODO), its pretraining stage reads the other datasets. A dataset
that is on disk but lacks files some run or stage needs (a subset of its people copied, a
pooled dataset not restricted to them) would fail every run that needs it, one by one, after
others have trained; this check names each such dataset, who reads it and how to fix it, first.
A dataset not fetched at all is left to the runs (each fails with "not present", or the suite's
``skip_missing_datasets`` skips it). Embedded datasets ship with a package: never checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.data.completeness import complete_subjects, relative_name
from harbench.data.paths import dataset_root

SHOWN = 3  # missing files named per dataset


def reads(specs: Iterable[Any]) -> dict[tuple[str, tuple[int, ...] | None], str]:
    """(dataset, subjects or None for all) -> why the suite reads it (the first reason)."""
    found: dict[tuple[str, tuple[int, ...] | None], str] = {}
    for spec in specs:
        own = getattr(spec, "subjects", None)
        found.setdefault((spec.dataset, tuple(own) if own else None),
                         "evaluated in matrix.datasets")
        stage = getattr(spec, "pretrain", None) or {}
        subsets = stage.get("dataset_subjects") or {}
        for name in stage.get("datasets") or []:
            if name == spec.dataset:
                continue
            chosen = subsets.get(name)
            found.setdefault((name, tuple(chosen) if chosen else None),
                             f"pooled by the pretraining stage while {spec.dataset!r} is held out")
    return found


def problems(specs: Iterable[Any]) -> list[str]:
    """One sentence per dataset that a suite reads with raw files missing."""
    out = []
    for (name, subjects), why in reads(specs).items():
        plugin = plugins.get("datasets", name)
        if plugin.embedded:
            continue
        root = dataset_root(plugin)
        if not plugin.is_present(root):  # not fetched: its runs fail (or are skipped) with why
            continue
        needed = [Path(p) for p in plugin.files(root, None if subjects is None else list(subjects))]
        absent = [p for p in needed if not p.exists()]
        if not absent:
            continue
        shown = ", ".join(relative_name(p, root) for p in absent[:SHOWN])
        more = " ..." if len(absent) > SHOWN else ""
        which = "all subjects" if subjects is None else f"subjects {list(subjects)}"
        on_disk = complete_subjects(plugin, root) if root.is_dir() else []
        hint = (f"; or restrict it to the subjects whose files are all here: "
                f"{{{name}: {{subjects: {on_disk}}}}} in matrix.datasets" if on_disk else "")
        out.append(f"dataset {name!r} ({why}, {which}) in {root}: {len(absent)} of {len(needed)} "
                   f"raw files missing: {shown}{more}. Fetch them (harbench data fetch {name})"
                   f"{hint}")
    return out


def check(specs: Iterable[Any]) -> None:
    """Raise naming every dataset a suite reads whose raw files are not all on disk."""
    found = problems(specs)
    if found:
        raise HarbenchError("raw data missing before any run:\n  " + "\n  ".join(found))

