"""What the core needs of evaluation protocols: lookup through the registry, validation splits and
label budgets.

The protocols themselves are plugins (``harbench_register_protocols``; the built-ins live in
``plugins/harbench_protocols``). A protocol is written in a suite and stored in a RunSpec as a
mapping ``{"name": ..., **params}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from harbench import plugins
from harbench.contracts import DatasetPlugin, Fold, HarbenchError, ProtocolPlugin
from harbench.data.windows import Windows

__all__ = [
    "Fold",
    "bind",
    "carve_validation",
    "fold_count",
    "has_times",
    "label_budget",
    "make_folds",
    "overlapping",
    "protocol_plugin",
    "split_in_time",
    "split_target",
    "training_parts",
    "validation_split",
]

DEFAULT = "loso"
NOT_PARAMS = ("name", "folds")  # keys of a protocol mapping that are not the protocol's params


def protocol_plugin(protocol: Mapping[str, Any]) -> ProtocolPlugin:
    """The registered plugin a protocol mapping names (``loso`` when it names none)."""
    return plugins.get("protocols", protocol.get("name", DEFAULT))


def params_of(protocol: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol's own parameters: the mapping without its name (and a suite's ``folds``)."""
    return {k: v for k, v in protocol.items() if k not in NOT_PARAMS}


def bind(dataset: DatasetPlugin, protocol: Mapping[str, Any]) -> dict[str, Any]:
    """``protocol`` checked (did-you-mean on names, ranges) and completed for ``dataset``.

    Raises :class:`harbench.settings.ParamError` for a bad parameter, HarbenchError when the
    protocol cannot apply to the dataset (e.g. more groups than subjects).
    """
    plugin = protocol_plugin(protocol)
    return {"name": plugin.name, **plugin.bind(dataset, _resolved(plugin, protocol))}


def _resolved(plugin: ProtocolPlugin, protocol: Mapping[str, Any]) -> dict[str, Any]:
    from harbench.settings import plugin_params, resolve

    return resolve(f"protocol {plugin.name!r}", plugin_params(plugin), params_of(protocol))


def fold_count(dataset: DatasetPlugin, protocol: Mapping[str, Any]) -> int:
    """How many folds a bound ``protocol`` makes for ``dataset``."""
    return int(protocol_plugin(protocol).fold_count(dataset, params_of(protocol)))


def make_folds(windows: Windows, protocol: Mapping[str, Any]) -> list[Fold]:
    """All folds of ``protocol`` ({name: ..., **params}) on ``windows``."""
    plugin = protocol_plugin(protocol)
    try:
        return plugin.folds(windows, _resolved(plugin, protocol))
    except TypeError as exc:
        raise HarbenchError(f"protocol {plugin.name!r}: {exc}") from None


def validation_split(
    windows: Windows, train: np.ndarray, fraction: float, seed: int, *, min_per_class: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out whole training subjects (about ``fraction`` of them) for validation.

    With a single training subject (window k-fold, subject adaptation) validation is carved in
    time: see :func:`carve_validation` (every class keeps ``min_per_class`` training windows).
    """
    subjects = np.unique(windows.subject[train])
    if len(subjects) >= 2:
        n_val = min(len(subjects) - 1, max(1, round(fraction * len(subjects))))
        rng = np.random.default_rng(seed)
        val_subjects = rng.choice(subjects, size=n_val, replace=False)
        is_val = np.isin(windows.subject[train], val_subjects)
        return train[~is_val], train[is_val]
    if has_times(windows):
        head, tail = carve_validation(windows, train, fraction, min_per_class=min_per_class)
        if len(head) and len(tail):
            return head, tail
    n_val = max(1, int(round(fraction * len(train))))
    return train[:-n_val], train[-n_val:]


def carve_validation(
    windows: Windows, index: np.ndarray, fraction: float, *, min_per_class: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) of one subject's ``index``: per class, the last ``fraction`` of its
    windows in time validate, but never so many that fewer than ``min_per_class`` (at least one)
    train; a class with no more windows than that validates on none. Validation windows that share
    a sample with a training window are dropped (training windows are never given up for them).
    """
    keep = max(1, int(min_per_class))
    order = _time_order(windows, index)
    train, val = [order[:0]], [order[:0]]
    for c in np.unique(windows.y[order]):
        members = order[windows.y[order] == c]
        n_val = min(int(round(fraction * len(members))), len(members) - keep)
        n_val = max(n_val, 0)
        train.append(members[: len(members) - n_val])
        val.append(members[len(members) - n_val :])
    head, tail = np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
    return head, tail[~overlapping(windows, tail, head)]


def split_target(
    windows: Windows, index: np.ndarray, fraction: float, *, min_per_class: int
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(adaptation, test, unsplit classes) of one target subject's ``index``, split in time.

    Per class, the first ``fraction`` of its windows in time adapt, but at least ``min_per_class``;
    the rest test, less the test windows that share a sample with an adaptation window. A class
    that cannot keep ``min_per_class`` adaptation windows and one test window is *unsplit*: all
    its windows go to the test part (it is never adapted to) and it is returned by index.
    """
    keep = max(1, int(min_per_class))
    order = _time_order(windows, index)
    y = windows.y
    unsplit: list[int] = []
    first: dict[int, np.ndarray] = {}
    for c in np.unique(y[order]):
        members = order[y[order] == c]
        n_first = max(int(round(fraction * len(members))), keep)
        if n_first > len(members) - 1:
            unsplit.append(int(c))
        else:
            first[int(c)] = members[:n_first]
    while True:
        head = np.sort(np.concatenate([order[:0], *first.values()]))
        tail = np.setdiff1d(order, head)
        tail = tail[~overlapping(windows, tail, head)]
        lost = [c for c in first if not np.any(y[tail] == c)]  # every test window overlapped
        if not lost:
            return head, tail, sorted(unsplit)
        for c in lost:
            unsplit.append(c)
            del first[c]


def _time_order(windows: Windows, index: np.ndarray) -> np.ndarray:
    """``index`` in recording, then start order."""
    recording = windows.recording if len(windows.recording) else np.zeros(len(windows), int)
    return index[np.lexsort((windows.start[index], recording[index]))]


def training_parts(
    windows: Windows, fold: Fold, training: Mapping[str, Any], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, labelled) of a run on ``fold``: validation carved from the fold's
    training windows (keeping the fold's ``min_per_class``), then the label budget, if any, on
    both (the validation set that drives early stopping gets the same per-class budget)."""
    train, val = validation_split(windows, fold.train, training["val_fraction"], seed,
                                  min_per_class=getattr(fold, "min_per_class", 1))
    labelled = train
    budget = training.get("budget")
    if budget:
        labelled = label_budget(windows, train, seed=seed, **budget)
        val = label_budget(windows, val, seed=seed + 1, **budget)
    return train, val, labelled


def has_times(windows: Any) -> bool:
    start = getattr(windows, "start", None)
    return getattr(windows, "y", None) is not None and start is not None and len(start) == len(
        windows.subject
    )


def split_in_time(
    windows: Windows, index: np.ndarray, fraction: float, *, keep_rest: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(first, rest) of ``index``: per class, the first ``fraction`` of its windows in time
    (recording, then start) and the others. Windows of the rest that share a sample with a window
    of the first part are dropped (of the first part instead, with ``keep_rest``), so that the two
    parts are at least one window apart. A class with a single window goes to the first part.
    """
    if not has_times(windows):
        raise HarbenchError(
            "splitting in time needs the start sample of every window (Windows.start)"
        )
    recording = windows.recording if len(windows.recording) else np.zeros(len(windows), int)
    order = index[np.lexsort((windows.start[index], recording[index]))]
    first, rest = [order[:0]], [order[:0]]
    for c in np.unique(windows.y[order]):
        members = order[windows.y[order] == c]  # this class's windows in time order
        n_first = int(round(fraction * len(members)))
        n_first = min(max(n_first, 1), max(len(members) - 1, 1))
        first.append(members[:n_first])
        rest.append(members[n_first:])
    head, tail = np.sort(np.concatenate(first)), np.sort(np.concatenate(rest))
    if keep_rest:
        return head[~overlapping(windows, head, tail)], tail
    return head, tail[~overlapping(windows, tail, head)]


def overlapping(windows: Windows, candidates: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Whether each of ``candidates`` shares a sample with any of ``others`` (same recording,
    starts less than one window length apart)."""
    length = windows.X.shape[1]
    out = np.zeros(len(candidates), dtype=bool)
    recordings = windows.recording if len(windows.recording) else np.zeros(len(windows), int)
    for rec in np.unique(recordings[candidates]):
        in_rec = recordings[candidates] == rec
        theirs = np.sort(windows.start[others[recordings[others] == rec]])
        if len(theirs) == 0:
            continue
        starts = windows.start[candidates[in_rec]]
        pos = np.searchsorted(theirs, starts)
        after = np.abs(theirs[np.minimum(pos, len(theirs) - 1)] - starts)
        before = np.abs(theirs[np.maximum(pos - 1, 0)] - starts)
        out[in_rec] = np.minimum(after, before) < length
    return out


def label_budget(
    windows: Windows,
    train: np.ndarray,
    *,
    per_class: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Keep ``per_class`` labelled windows per class, or ``fraction`` of each class, seeded."""
    if (per_class is None) == (fraction is None):
        raise HarbenchError("budget needs exactly one of per_class or fraction")
    rng = np.random.default_rng(seed)
    kept = []
    for c in np.unique(windows.y[train]):
        members = train[windows.y[train] == c]
        n = per_class if per_class is not None else max(1, int(round(fraction * len(members))))
        kept.append(rng.choice(members, size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(kept)) if kept else train[:0]
