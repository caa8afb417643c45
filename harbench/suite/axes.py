"""The axes of a suite's matrix (datasets, models, methods with their parameter sweeps, seeds,
folds) and the protocol each dataset is evaluated with, checked where they are written.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harbench import plugins
from harbench.compat import incompatibility
from harbench.contracts import HarbenchError
from harbench.data import protocols
from harbench.settings import SEED_LIMIT, Param, plugin_params, resolve, resolve_plugin_params
from harbench.suite import bounds
from harbench.suite.located import (
    Collector,
    Key,
    Where,
    check_keys,
    dotted,
    int_list,
    known,
    mapping,
    sources_of,
)

DATASET_PARAM_KEYS = {"subjects"}  # what `datasets: [{name: {...}}]` may say about a dataset
SEQUENCE_KINDS = ("list", "names", "mapping")  # a list given to one of these is one value


@dataclass(frozen=True)
class Entry:
    """One axis value of the matrix: a plugin name, one combination of its parameters, the key
    path of the entry and of each parameter's value (for locating errors)."""

    name: str
    params: dict[str, Any]
    path: Key
    sources: dict[str, Key] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)  # params over the plugin's defaults


class Subset:
    """A dataset plugin seen through a subject restriction (what protocols bind against)."""

    def __init__(self, plugin: Any, subjects: list[int] | None):
        self._plugin = plugin
        self.subjects = tuple(plugin.subjects if subjects is None else subjects)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugin, name)


def entry_key(entry: Entry) -> str:
    """The entry's key path as text: a stable name for per-dataset tables."""
    return ".".join(str(k) for k in entry.path)


def settings_part(where: Where, key: Key, value: Any, cls: type) -> dict[str, Any]:
    """The given values of a settings block, each checked (names and ranges); defaults are
    filled in when a cell is built, so overrides can still change them."""
    given = mapping(where, key, value)
    errors = Collector()
    for name, item in given.items():  # each key on its own: every bad one is reported
        errors.attempt(_resolve_one, where, key, cls, name, item)
    errors.raise_any()
    return dict(given)


def _resolve_one(where: Where, key: Key, cls: type, name: str, value: Any) -> None:
    try:
        resolve(cls.owner, cls.params(), {name: value})
    except HarbenchError as exc:
        where.fail(key, exc)


def checked_settings(
    where: Where, key: Key, values: dict[str, Any], cls: type, sources: Mapping[str, Key]
) -> Any:
    """A settings instance of ``cls`` from a cell's ``values`` (overrides applied); an error is
    located where the bad value was written (``sources``), else at ``key``."""
    try:
        return cls.from_dict(values)
    except HarbenchError as exc:
        where.fail(key, exc, sources)


def entries(where: Where, key: Key, value: Any, kind: str) -> list[Entry]:
    """A list of names or {name: {param: value | [sweep]}} -> one Entry per combination."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error(key, f"expected a non-empty list of {kind}")
    out: list[Entry] = []
    errors = Collector()  # each entry on its own: every bad one is reported
    for i, item in enumerate(value):
        errors.attempt(_entry, where, key, i, item, kind, out)
    errors.raise_any()
    return out


def _entry(where: Where, key: Key, i: int, item: Any, kind: str, out: list[Entry]) -> None:
    """Append the Entry (or the Entries of a sweep) of list item ``i`` to ``out``."""
    if isinstance(item, str):
        known(where, key + (i,), kind, item)
        entry = Entry(item, {}, key + (i,))
        out.append(Entry(item, {}, key + (i,), {}, resolve_entry(where, kind, entry, {}, {})))
    elif isinstance(item, dict) and len(item) == 1:
        name, params = next(iter(item.items()))
        entry_key = key + (i, name)
        plugin = known(where, entry_key, kind, name)
        params = mapping(where, entry_key, params)
        for combo, sources in sweep(where, entry_key, plugin_params(plugin), params):
            entry = Entry(name, combo, entry_key, sources)
            resolved = resolve_entry(where, kind, entry, combo, sources)
            out.append(Entry(name, combo, entry_key, sources, resolved))
    else:
        raise where.error(key + (i,), f"expected a {kind[:-1]} name or {{name: {{params}}}}")


def sweep(
    where: Where, key: Key, declared: Mapping[str, Param], params: dict[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Key]]]:
    """{r: [4, 8], alpha: 16} -> [({r: 4, alpha: 16}, sources), ({r: 8, alpha: 16}, ...)].

    A list is a sweep unless the parameter takes a list (then a list of lists is the sweep).
    """
    keys = sorted(params)
    options: list[list[tuple[Any, Key]]] = []
    for k in keys:
        v = params[k]
        param = declared.get(k)
        takes_list = param is not None and param.type_name in SEQUENCE_KINDS
        swept = isinstance(v, list) and (
            not takes_list or (bool(v) and all(isinstance(x, (list, tuple)) for x in v))
        )
        if swept and not v:
            raise where.error(key + (k,), "an empty list sweeps over nothing")
        if swept:
            options.append([(x, key + (k, j)) for j, x in enumerate(v)])
        else:
            options.append([(v, key + (k,))])
    bounds.check_sweep(where, key, options)
    out = []
    for combo in itertools.product(*options):
        out.append(
            (
                {k: value for k, (value, _) in zip(keys, combo)},
                {k: src for k, (_, src) in zip(keys, combo)},
            )
        )
    return out


def resolve_entry(
    where: Where, kind: str, entry: Entry, params: dict[str, Any], sources: Mapping[str, Key]
) -> dict[str, Any]:
    """A plugin's full parameters for ``entry``; an error located at the bad value."""
    try:
        return resolve_plugin_params(kind, entry.name, params)
    except HarbenchError as exc:
        where.fail(entry.path, exc, sources)


def check_compatible(where: Where, model: Entry, method: Entry, params: dict[str, Any]) -> None:
    """Refuse a method that cannot adapt the backbone (see :mod:`harbench.compat`)."""
    reason = incompatibility(
        plugins.get("models", model.name), plugins.get("methods", method.name), params
    )
    if reason:
        raise where.error(method.path, f"{reason} (backbone from {dotted(model.path)})")


def dataset_entries(where: Where, key: Key, value: Any) -> list[Entry]:
    """Dataset names, or {name: {subjects: [...]}} to restrict a dataset to some subjects."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error(key, "expected a non-empty list of datasets")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            known(where, key + (i,), "datasets", item)
            out.append(Entry(item, {}, key + (i,)))
            continue
        if not (isinstance(item, dict) and len(item) == 1):
            raise where.error(key + (i,), "expected a dataset name or {name: {subjects: [...]}}")
        name, params = next(iter(item.items()))
        entry_key = key + (i, name)
        plugin = known(where, entry_key, "datasets", name)
        params = mapping(where, entry_key, params)
        check_keys(where, entry_key, params, DATASET_PARAM_KEYS)
        checked = {}
        if "subjects" in params:
            checked["subjects"] = subject_list(where, entry_key + ("subjects",), plugin, params)
        out.append(Entry(name, checked, entry_key, sources_of(entry_key, checked)))
    names = [e.name for e in out]
    for name in names:
        if names.count(name) > 1:
            raise where.error(key, f"dataset {name!r} is listed twice")
    return out


def subject_list(where: Where, key: Key, plugin: Any, params: dict[str, Any]) -> list[int]:
    """A dataset's subject subset: distinct ids the dataset declares, sorted."""
    subjects = params["subjects"]
    if (
        not isinstance(subjects, list)
        or not subjects
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in subjects)
    ):
        raise where.error(key, f"expected a non-empty list of subject ids, got {subjects!r}")
    if len(set(subjects)) != len(subjects):
        raise where.error(key, f"a subject is listed twice in {subjects}")
    known = set(plugin.subjects)
    unknown = [s for s in subjects if s not in known]
    if known and unknown:
        raise where.error(
            key,
            f"{unknown} are not subjects of dataset {plugin.name!r} "
            f"(its subjects: {', '.join(str(s) for s in sorted(known))})",
        )
    return sorted(subjects)


def seed_list(where: Where, key: Key, value: Any) -> list[int]:
    """Seeds: integers within the stored range 0 <= seed < 2**31."""
    seeds = int_list(where, key, value)
    for i, seed in enumerate(seeds):
        if not 0 <= seed < SEED_LIMIT:
            raise where.error(
                key + (i,) if isinstance(value, list) else key,
                f"seed {seed} is outside the stored range 0 <= seed < 2**31 ({SEED_LIMIT})",
            )
    return seeds


def fold_list(where: Where, key: Key, value: Any, n_folds: int, dataset: str) -> list[int]:
    """The folds to run: ``all``, or listed folds within the protocol's count."""
    if value == "all":
        return list(range(n_folds))
    folds = int_list(where, key, value)
    bad = [f for f in folds if not 0 <= f < n_folds]
    if bad:
        raise where.error(
            key,
            f"fold {bad[0]} out of range: this protocol has {n_folds} folds (0..{n_folds - 1}) "
            f"on dataset {dataset!r}",
        )
    return folds


def bind_protocol(
    where: Where, ds: Entry, base: dict[str, Any], sources: Mapping[str, Key]
) -> dict[str, Any]:
    """The protocol of dataset ``ds``: ``base`` (the suite's) or the dataset's own, bound to it."""
    plugin = plugins.get("datasets", ds.name)
    protocol = dict(base) if base else dict(plugin.protocol)
    if "name" not in protocol:
        protocol["name"] = plugin.protocol.get("name", protocols.DEFAULT)
    key: Key = ("defaults", "protocol") if base else ds.path
    if sources:  # an override changed the protocol: its `set.protocol` is where to look
        key = next(iter(sources.values()))[:-1]
    name_key = sources.get("name", key + ("name",) if base else key)
    known(where, name_key, "protocols", protocol["name"])
    view = Subset(plugin, ds.params.get("subjects"))
    try:
        return protocols.bind(view, protocol)
    except HarbenchError as exc:
        where.fail(key, exc, sources)


def budget_list(
    where: Where, key: Key, value: Any, training: dict[str, Any]
) -> list[dict[str, Any] | None]:
    """``matrix.budgets``: label budgets to sweep (``null`` = every label, ``{per_class: N}``,
    ``{fraction: F}``); without it, the one budget of ``defaults.training``."""
    from harbench.settings import TrainingSettings

    if value is None:
        return [training.get("budget")]
    if not isinstance(value, list) or not value:
        raise where.error(key, "expected a non-empty list of budgets: null, {per_class: N} or "
                               "{fraction: F}")
    param = TrainingSettings.params()["budget"]
    out = []
    for i, item in enumerate(value):
        try:
            TrainingSettings.from_dict({**training, "budget": param.check(item)})
        except HarbenchError as exc:
            raise where.error(key + (i,), str(exc)) from None
        out.append(None if item is None else dict(item))
    return out
