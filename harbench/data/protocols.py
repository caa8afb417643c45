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
    "fold_count",
    "label_budget",
    "make_folds",
    "protocol_plugin",
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
    windows: Windows, train: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out whole training subjects (about ``fraction`` of them) for validation.

    With a single training subject, the last ``fraction`` of its windows (contiguous) is held out.
    """
    subjects = np.unique(windows.subject[train])
    if len(subjects) >= 2:
        n_val = min(len(subjects) - 1, max(1, round(fraction * len(subjects))))
        rng = np.random.default_rng(seed)
        val_subjects = rng.choice(subjects, size=n_val, replace=False)
        is_val = np.isin(windows.subject[train], val_subjects)
        return train[~is_val], train[is_val]
    n_val = max(1, int(round(fraction * len(train))))
    return train[:-n_val], train[-n_val:]


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
