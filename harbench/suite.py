"""YAML suite -> validated Suite -> expand() -> the plan: one RunSpec per cell.

``load`` reads the file (YAML 1.2 scalars, no duplicate keys, bounded aliases) and checks every
value where it is parsed, against the typed settings (:mod:`harbench.settings`) and the plugin
registries; ``Suite.expand`` builds the runs on first use and checks what only a cell knows
(overrides applied, model/method compatibility). Every error names the file, the line and the
full key path (``defaults.training.lr``, ``matrix.methods.2.lora.r``) and says what was expected.
"""

from __future__ import annotations

import difflib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harbench import plugins, yamlsafe
from harbench.compat import incompatibility
from harbench.contracts import HarbenchError
from harbench.data import protocols
from harbench.settings import (
    SEED_LIMIT,
    ExecutorSettings,
    Param,
    PretrainSettings,
    TrainingSettings,
    WindowSettings,
    defaults_of,
    executor_options,
    plugin_params,
    resolve,
    resolve_plugin_params,
)
from harbench.spec import RunSpec, data_fingerprint, versions

__all__ = ["RunSpec", "Suite", "SuiteError", "load", "loads"]

TOP_KEYS = {
    "name",
    "description",
    "defaults",
    "matrix",
    "exclude",
    "overrides",
    "executor",
    "skip_missing_datasets",
    "compare",
}
DEFAULT_KEYS = {"window", "protocol", "training", "pretrain"}
MATRIX_KEYS = {"datasets", "models", "methods", "seeds", "folds"}
MATCH_KEYS = {"dataset", "model", "method", "seed", "fold"}
PARAM_MATCH_KEYS = {"model_params": "models", "method_params": "methods"}
SET_KEYS = {"window", "protocol", "training", "model", "method"}
DATASET_PARAM_KEYS = {"subjects"}
COMPARE_KEYS = {"reference", "fraction", "f1"}
SEQUENCE_KINDS = ("list", "names", "mapping")  # a list given to one of these is one value

Key = tuple[Any, ...]


class SuiteError(HarbenchError):
    """A problem in a suite file, located by file, line and key."""


class _Where:
    """Builds located errors for one suite file."""

    def __init__(self, path: Path, lines: dict[tuple[str, ...], int]):
        self.path = path
        self.lines = lines

    def __repr__(self) -> str:
        return f"_Where({str(self.path)!r})"

    def line(self, key_path: Key) -> int | None:
        text = tuple(str(k) for k in key_path)
        for n in range(len(text), -1, -1):
            if text[:n] in self.lines:
                return self.lines[text[:n]]
        return None

    def error(self, key_path: Key, message: str) -> SuiteError:
        line = self.line(key_path)
        key = ".".join(str(k) for k in key_path) or "(top level)"
        at = f"{self.path}, line {line}" if line else str(self.path)
        return SuiteError(f"{at}, key '{key}': {message}")

    def fail(self, base: Key, exc: HarbenchError, sources: Mapping[str, Key] | None = None):
        """Raise ``exc`` located at ``base`` plus the key path it carries (a ParamError's), or
        at the path ``sources`` records for its first key (a value set by an override)."""
        path = tuple(getattr(exc, "path", ()) or ())
        if path and sources and path[0] in sources:
            base, path = sources[path[0]], path[1:]
        raise self.error(tuple(base) + path, str(exc)) from None


@dataclass(frozen=True)
class Entry:
    """One axis value of the matrix: a plugin name, one combination of its parameters, the key
    path of the entry and of each parameter's value (for locating errors)."""

    name: str
    params: dict[str, Any]
    path: Key
    sources: dict[str, Key] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)  # params over the plugin's defaults


@dataclass(frozen=True)
class Rule:
    """An ``exclude`` rule or an ``overrides`` rule: what it matches, what it sets, where it is."""

    when: dict[str, Any]
    set: dict[str, dict[str, Any]]
    path: Key


class _Subset:
    """A dataset plugin seen through a subject restriction (what protocols bind against)."""

    def __init__(self, plugin: Any, subjects: list[int] | None):
        self._plugin = plugin
        self.subjects = tuple(plugin.subjects if subjects is None else subjects)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugin, name)


@dataclass
class Suite:
    """A validated suite; ``expand()`` builds its runs on first use."""

    name: str
    path: Path
    description: str
    executor: dict[str, Any]
    skip_missing_datasets: bool = False
    compare: dict[str, Any] | None = None
    parts: _Parts | None = field(default=None, repr=False)
    _plan: list[RunSpec] | None = field(default=None, repr=False)

    def expand(self) -> list[RunSpec]:
        """Every run of the suite, in matrix order (built once, then reused)."""
        if self._plan is None:
            if self.parts is None:
                raise HarbenchError(f"suite {self.name!r} has nothing to expand")
            self._plan = list(_expand(self.name, self.parts))
            if not self._plan:
                raise self.parts.where.error(
                    ("matrix",), "the matrix expands to no runs (everything excluded?)"
                )
        return self._plan

    @property
    def specs(self) -> list[RunSpec]:
        return self.expand()


@dataclass
class _Parts:
    """The checked pieces a suite's plan is built from."""

    where: _Where
    datasets: list[Entry]
    models: list[Entry]
    methods: list[Entry]
    seeds: list[int]
    folds: dict[str, list[int]]  # dataset entry path -> folds to run
    protocols: dict[str, dict[str, Any]]  # dataset entry path -> bound protocol
    protocol_sources: dict[str, Key]
    window: dict[str, Any]
    window_sources: dict[str, Key]
    training: dict[str, Any]
    training_sources: dict[str, Key]
    pretrain: PretrainSettings | None
    lodo: bool
    excludes: list[Rule]
    overrides: list[Rule]


# ---- reading ---------------------------------------------------------------------------------


def load(path: str | Path) -> Suite:
    """Read and validate a suite file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SuiteError(f"cannot read suite {path}: {exc.strerror or exc}") from None
    return loads(text, path)


def loads(text: str, path: str | Path = "<suite>") -> Suite:
    """Validate suite YAML ``text`` (``path`` is used in messages)."""
    path = Path(path)
    try:
        document = yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        line = f", line {exc.line}" if exc.line else ""
        key = f", key '{'.'.join(exc.path)}'" if exc.path else ""
        raise SuiteError(f"{path}{line}{key}: {exc}") from None
    where = _Where(path, document.lines)
    data = document.data
    if not isinstance(data, dict):
        raise where.error((), "a suite is a mapping with at least a 'matrix' key")
    _check_keys(where, (), data, TOP_KEYS)
    if "matrix" not in data:
        raise where.error((), "missing 'matrix' (datasets, models, methods to combine)")
    name = data.get("name") or path.stem
    if not isinstance(name, str):
        raise where.error(("name",), f"expected a suite name (text), got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise where.error(("description",), f"expected text, got {description!r}")
    skip_missing = data.get("skip_missing_datasets", False)
    if not isinstance(skip_missing, bool):
        raise where.error(
            ("skip_missing_datasets",), f"expected true or false, got {skip_missing!r}"
        )
    parts = _parts(where, data)
    compare = _compare(where, data.get("compare"), parts.methods)
    executor = _executor(where, data.get("executor"))
    return Suite(name, path, description, executor, skip_missing, compare, parts)


def _parts(where: _Where, data: dict[str, Any]) -> _Parts:
    defaults = _mapping(where, ("defaults",), data.get("defaults"))
    _check_keys(where, ("defaults",), defaults, DEFAULT_KEYS)
    matrix = _mapping(where, ("matrix",), data["matrix"])
    _check_keys(where, ("matrix",), matrix, MATRIX_KEYS)
    for required in ("datasets", "models", "methods"):
        if required not in matrix:
            raise where.error(("matrix",), f"missing '{required}': a list of names")
    datasets = _datasets(where, ("matrix", "datasets"), matrix["datasets"])
    models = _entries(where, ("matrix", "models"), matrix["models"], "models")
    methods = _entries(where, ("matrix", "methods"), matrix["methods"], "methods")
    seeds = _seeds(where, ("matrix", "seeds"), matrix.get("seeds", [0]))

    window_key = ("defaults", "window")
    window = _settings_part(where, window_key, defaults.get("window"), WindowSettings)
    training_key = ("defaults", "training")
    training = _settings_part(where, training_key, defaults.get("training"), TrainingSettings)
    pretrain = _pretrain(where, ("defaults", "pretrain"), defaults.get("pretrain"), models)
    base_protocol = dict(_mapping(where, ("defaults", "protocol"), defaults.get("protocol")))
    if "folds" in matrix:
        folds_key, folds_value = ("matrix", "folds"), matrix["folds"]
    else:
        folds_key = ("defaults", "protocol", "folds")
        folds_value = base_protocol.get("folds", "all")
    base_protocol.pop("folds", None)
    lodo = base_protocol.get("name") == "lodo"
    if lodo:
        _check_lodo(where, datasets, pretrain)
    _check_shared_recordings(where, datasets, pretrain, lodo)

    bound, folds = {}, {}
    for entry in datasets:
        key = _entry_key(entry)
        bound[key] = _bind_protocol(where, entry, base_protocol, {})
        view = _Subset(plugins.get("datasets", entry.name), entry.params.get("subjects"))
        n_folds = protocols.fold_count(view, bound[key])
        folds[key] = _folds(where, folds_key, folds_value, n_folds, entry.name)

    axes = {"datasets": datasets, "models": models, "methods": methods}
    excludes = _rules(where, ("exclude",), data.get("exclude"), axes, with_set=False)
    overrides = _rules(where, ("overrides",), data.get("overrides"), axes, with_set=True)
    return _Parts(
        where=where,
        datasets=datasets,
        models=models,
        methods=methods,
        seeds=seeds,
        folds=folds,
        protocols=bound,
        protocol_sources=_sources(("defaults", "protocol"), base_protocol),
        window=window,
        window_sources=_sources(window_key, window),
        training=training,
        training_sources=_sources(training_key, training),
        pretrain=pretrain,
        lodo=lodo,
        excludes=excludes,
        overrides=overrides,
    )


# ---- expanding -------------------------------------------------------------------------------


def _expand(suite_name: str, parts: _Parts) -> Iterator[RunSpec]:
    """The runs of the matrix, with exclusions and overrides applied, each checked once."""
    memo = _Memo()
    seen: set[str] = set()
    for ds, model, method in itertools.product(parts.datasets, parts.models, parts.methods):
        subjects = ds.params.get("subjects")
        fingerprint = memo(
            data_fingerprint, ds.name, None if subjects is None else tuple(subjects)
        )
        for seed, fold in itertools.product(parts.seeds, parts.folds[_entry_key(ds)]):
            cell = {
                "dataset": ds.name,
                "model": model.name,
                "method": method.name,
                "seed": seed,
                "fold": fold,
            }
            if any(_matches(r, cell, model.resolved, method.resolved) for r in parts.excludes):
                continue
            cfg = _Cell(parts, ds, model, method)
            for rule in parts.overrides:
                if _matches(rule, cell, model.resolved, method.resolved):
                    cfg.apply(rule)
            spec = _spec(parts, memo, cfg, cell, fingerprint, suite_name)
            if spec.run_id not in seen:
                seen.add(spec.run_id)
                yield spec


class _Memo:
    """Calls a function once per distinct arguments (compared by their JSON text)."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        key = fn.__name__ + _json([a if _plain(a) else repr(a) for a in args])
        if key not in self.results:
            self.results[key] = fn(*args)
        return self.results[key]


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, tuple, dict))


def _spec(
    parts: _Parts, memo: _Memo, cfg: _Cell, cell: dict[str, Any], fingerprint: str, suite: str
) -> RunSpec:
    """The RunSpec of one cell whose overrides ``cfg`` holds; every value checked."""
    where, ds, model, method = parts.where, cfg.ds, cfg.model, cfg.method
    protocol = parts.protocols[_entry_key(ds)]
    if cfg.protocol:
        protocol = memo(
            _rebind_protocol, where, ds, cfg.base_protocol(), cfg.protocol_sources, cell["fold"]
        )
    model_params = memo(_resolve_params, where, "models", model, cfg.model_params, cfg.model_src)
    method_params = memo(
        _resolve_params, where, "methods", method, cfg.method_params, cfg.method_src
    )
    memo(_check_compatible, where, model, method, method_params)
    training_key, window_key = ("defaults", "training"), ("defaults", "window")
    training = memo(
        _settings, where, training_key, cfg.training, TrainingSettings, cfg.training_src
    )
    window = memo(_settings, where, window_key, cfg.window, WindowSettings, cfg.window_src)
    return RunSpec(
        dataset=ds.name,
        model=model.name,
        model_params=model_params,
        method=method.name,
        method_params=method_params,
        protocol=protocol,
        fold=cell["fold"],
        seed=cell["seed"],
        window=window.given(),
        training=training.to_dict(),
        pretrain=_stage(parts, model.name, ds.name),
        dataset_params=dict(ds.params),
        versions=memo(versions, ds.name, model.name, method.name, protocol),
        data_fingerprint=fingerprint,
        suite=suite,
    )


def _rebind_protocol(
    where: _Where, ds: Entry, protocol: dict[str, Any], sources: dict[str, Key], fold: int
) -> dict[str, Any]:
    """The protocol of a cell whose overrides change it, checked again (fold included)."""
    bound = _bind_protocol(where, ds, protocol, sources)
    view = _Subset(plugins.get("datasets", ds.name), ds.params.get("subjects"))
    n_folds = protocols.fold_count(view, bound)
    if fold >= n_folds:
        at = sources.get("name") or next(iter(sources.values()), ds.path)
        raise where.error(
            at,
            f"an override gives the protocol of {ds.name!r} {n_folds} folds; "
            f"fold {fold} does not exist",
        )
    return bound


class _Cell:
    """The settings of one cell while overrides are applied, with where each value came from."""

    def __init__(self, parts: _Parts, ds: Entry, model: Entry, method: Entry):
        self.parts, self.ds, self.model, self.method = parts, ds, model, method
        self.window, self.window_src = dict(parts.window), dict(parts.window_sources)
        self.training, self.training_src = dict(parts.training), dict(parts.training_sources)
        self.protocol: dict[str, Any] = {}
        self.protocol_sources: dict[str, Key] = {}
        self.model_params, self.model_src = dict(model.params), dict(model.sources)
        self.method_params, self.method_src = dict(method.params), dict(method.sources)

    def apply(self, rule: Rule) -> None:
        targets = {
            "window": (self.window, self.window_src),
            "training": (self.training, self.training_src),
            "protocol": (self.protocol, self.protocol_sources),
            "model": (self.model_params, self.model_src),
            "method": (self.method_params, self.method_src),
        }
        for part, values in rule.set.items():
            store, sources = targets[part]
            store.update(values)
            sources.update({k: rule.path + ("set", part, k) for k in values})

    def base_protocol(self) -> dict[str, Any]:
        """The suite's protocol for this dataset with the overrides' values on top."""
        bound = self.parts.protocols[_entry_key(self.ds)]
        if self.protocol.get("name", bound["name"]) != bound["name"]:
            return dict(self.protocol)
        return {**bound, **self.protocol}


def _stage(parts: _Parts, model: str, dataset: str) -> dict[str, Any] | None:
    """The pretraining stage that applies to ``model`` (None when it is not listed)."""
    pretrain = parts.pretrain
    if pretrain is None or (pretrain.models is not None and model not in pretrain.models):
        return None
    stage = {k: v for k, v in pretrain.to_dict().items() if k != "models"}
    if stage["seed"] is None:  # follow the run's seed
        del stage["seed"]
    if parts.lodo:
        stage["datasets"] = [d.name for d in parts.datasets if d.name != dataset]
    return stage


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _entry_key(entry: Entry) -> str:
    return ".".join(str(k) for k in entry.path)


def _sources(base: Key, values: Mapping[str, Any]) -> dict[str, Key]:
    return {k: base + (k,) for k in values}


# ---- validators ------------------------------------------------------------------------------


def _mapping(where: _Where, key: Key, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(key, f"expected a mapping, got {type(value).__name__} {value!r}")
    return value


def _check_keys(where: _Where, key: Key, value: dict, allowed: set[str]) -> None:
    for k in value:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), sorted(allowed), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise where.error(
                key + (k,), f"unknown key.{hint} Expected one of: {', '.join(sorted(allowed))}"
            )


def _known(where: _Where, key: Key, kind: str, name: Any) -> Any:
    if not isinstance(name, str):
        raise where.error(key, f"expected a {kind[:-1]} name, got {name!r}")
    try:
        return plugins.get(kind, name)
    except HarbenchError as exc:
        raise where.error(key, str(exc)) from None


def _settings_part(where: _Where, key: Key, value: Any, cls: type) -> dict[str, Any]:
    """The given values of a settings block, each checked (names and ranges); defaults are
    filled in when a cell is built, so overrides can still change them."""
    given = _mapping(where, key, value)
    try:
        resolve(cls.owner, cls.params(), given)
    except HarbenchError as exc:
        where.fail(key, exc)
    return dict(given)


def _settings(
    where: _Where, key: Key, values: dict[str, Any], cls: type, sources: Mapping[str, Key]
) -> Any:
    try:
        return cls.from_dict(values)
    except HarbenchError as exc:
        where.fail(key, exc, sources)


def _entries(where: _Where, key: Key, value: Any, kind: str) -> list[Entry]:
    """A list of names or {name: {param: value | [sweep]}} -> one Entry per combination."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error(key, f"expected a non-empty list of {kind}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            _known(where, key + (i,), kind, item)
            entry = Entry(item, {}, key + (i,))
            out.append(Entry(item, {}, key + (i,), {}, _resolve_params(where, kind, entry, {}, {})))
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            entry_key = key + (i, name)
            plugin = _known(where, entry_key, kind, name)
            params = _mapping(where, entry_key, params)
            for combo, sources in _sweep(where, entry_key, plugin_params(plugin), params):
                entry = Entry(name, combo, entry_key, sources)
                resolved = _resolve_params(where, kind, entry, combo, sources)
                out.append(Entry(name, combo, entry_key, sources, resolved))
        else:
            raise where.error(key + (i,), f"expected a {kind[:-1]} name or {{name: {{params}}}}")
    return out


def _sweep(
    where: _Where, key: Key, declared: Mapping[str, Param], params: dict[str, Any]
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
    out = []
    for combo in itertools.product(*options):
        out.append(
            (
                {k: value for k, (value, _) in zip(keys, combo)},
                {k: src for k, (_, src) in zip(keys, combo)},
            )
        )
    return out


def _resolve_params(
    where: _Where, kind: str, entry: Entry, params: dict[str, Any], sources: Mapping[str, Key]
) -> dict[str, Any]:
    try:
        return resolve_plugin_params(kind, entry.name, params)
    except HarbenchError as exc:
        where.fail(entry.path, exc, sources)


def _check_compatible(where: _Where, model: Entry, method: Entry, params: dict[str, Any]) -> None:
    reason = incompatibility(
        plugins.get("models", model.name), plugins.get("methods", method.name), params
    )
    if reason:
        raise where.error(method.path, f"{reason} (backbone from {_dotted(model.path)})")


def _dotted(key: Key) -> str:
    return ".".join(str(k) for k in key)


def _datasets(where: _Where, key: Key, value: Any) -> list[Entry]:
    """Dataset names, or {name: {subjects: [...]}} to restrict a dataset to some subjects."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error(key, "expected a non-empty list of datasets")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            _known(where, key + (i,), "datasets", item)
            out.append(Entry(item, {}, key + (i,)))
            continue
        if not (isinstance(item, dict) and len(item) == 1):
            raise where.error(key + (i,), "expected a dataset name or {name: {subjects: [...]}}")
        name, params = next(iter(item.items()))
        entry_key = key + (i, name)
        plugin = _known(where, entry_key, "datasets", name)
        params = _mapping(where, entry_key, params)
        _check_keys(where, entry_key, params, DATASET_PARAM_KEYS)
        checked = {}
        if "subjects" in params:
            checked["subjects"] = _subjects(where, entry_key + ("subjects",), plugin, params)
        out.append(Entry(name, checked, entry_key, _sources(entry_key, checked)))
    names = [e.name for e in out]
    for name in names:
        if names.count(name) > 1:
            raise where.error(key, f"dataset {name!r} is listed twice")
    return out


def _subjects(where: _Where, key: Key, plugin: Any, params: dict[str, Any]) -> list[int]:
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


def _seeds(where: _Where, key: Key, value: Any) -> list[int]:
    seeds = _int_list(where, key, value)
    for i, seed in enumerate(seeds):
        if not 0 <= seed < SEED_LIMIT:
            raise where.error(
                key + (i,) if isinstance(value, list) else key,
                f"seed {seed} is outside the stored range 0 <= seed < 2**31 ({SEED_LIMIT})",
            )
    return seeds


def _int_list(where: _Where, key: Key, value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise where.error(key, f"expected a list of integers, got {value!r}")
    return value


def _folds(where: _Where, key: Key, value: Any, n_folds: int, dataset: str) -> list[int]:
    if value == "all":
        return list(range(n_folds))
    folds = _int_list(where, key, value)
    bad = [f for f in folds if not 0 <= f < n_folds]
    if bad:
        raise where.error(
            key,
            f"fold {bad[0]} out of range: this protocol has {n_folds} folds (0..{n_folds - 1}) "
            f"on dataset {dataset!r}",
        )
    return folds


def _bind_protocol(
    where: _Where, ds: Entry, base: dict[str, Any], sources: Mapping[str, Key]
) -> dict[str, Any]:
    """The protocol of dataset ``ds``: ``base`` (the suite's) or the dataset's own, bound to it."""
    plugin = plugins.get("datasets", ds.name)
    protocol = dict(base) if base else dict(plugin.protocol)
    if "name" not in protocol:
        protocol["name"] = plugin.protocol.get("name", protocols.DEFAULT)
    key: Key = ("defaults", "protocol") if base else ds.path
    name_key = sources.get("name", key + ("name",) if base else key)
    _known(where, name_key, "protocols", protocol["name"])
    view = _Subset(plugin, ds.params.get("subjects"))
    try:
        return protocols.bind(view, protocol)
    except HarbenchError as exc:
        where.fail(key, exc, sources)


def _pretrain(
    where: _Where, key: Key, value: Any, models: list[Entry]
) -> PretrainSettings | None:
    if value in (None, False):
        return None
    given = _mapping(where, key, value)
    try:
        stage = PretrainSettings.from_dict(given)
    except HarbenchError as exc:
        where.fail(key, exc)
    in_matrix = {m.name for m in models}
    for i, name in enumerate(_names(stage.models)):
        _known(where, key + ("models", i), "models", name)
        if name not in in_matrix:
            raise where.error(
                key + ("models", i),
                f"model {name!r} is not in matrix.models ({', '.join(sorted(in_matrix))})",
            )
    for i, name in enumerate(_names(stage.datasets)):
        _known(where, key + ("datasets", i), "datasets", name)
    return stage


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _check_lodo(where: _Where, datasets: list[Entry], pretrain: PretrainSettings | None) -> None:
    """Leave-one-dataset-out needs several datasets and a pretraining stage to pool the others."""
    if len({d.name for d in datasets}) < 2:
        raise where.error(("matrix", "datasets"), "protocol lodo needs at least two datasets")
    if pretrain is None:
        raise where.error(
            ("defaults", "protocol", "name"),
            "protocol lodo pretrains on every dataset but the held-out one: add defaults.pretrain "
            "(and defaults.window.harmonise so that all datasets share channels and rate)",
        )


def _check_shared_recordings(
    where: _Where, datasets: list[Entry], pretrain: PretrainSettings | None, lodo: bool
) -> None:
    """Refuse a held-out dataset whose recordings a pretraining dataset also holds (leakage)."""
    if pretrain is None:
        return
    for entry in datasets:
        held_out = plugins.get("datasets", entry.name)
        origin = getattr(held_out, "recordings_from", "")
        if not origin:
            continue
        pooled = [d.name for d in datasets if d.name != entry.name] if lodo else []
        pooled += [d for d in _names(pretrain.datasets) if d != entry.name]
        for other in pooled:
            if getattr(plugins.get("datasets", other), "recordings_from", "") == origin:
                raise where.error(
                    entry.path,
                    f"held-out dataset {entry.name!r} and pretraining dataset {other!r} share "
                    f"their recordings ({origin!r}): the backbone would be pretrained on the "
                    f"people and signals it is tested on. Keep only one of {entry.name!r} and "
                    f"{other!r} in the suite.",
                )


def _rules(
    where: _Where, key: Key, value: Any, axes: dict[str, list[Entry]], *, with_set: bool
) -> list[Rule]:
    if value in (None, []):
        return []
    if not isinstance(value, list):
        raise where.error(key, "expected a list of rules")
    rules = []
    for i, rule in enumerate(value):
        rule = _mapping(where, key + (i,), rule)
        rule_key = key + (i,)
        if with_set:
            _check_keys(where, rule_key, rule, {"when", "set"})
            when_key = rule_key + ("when",)
            when = _mapping(where, when_key, rule.get("when"))
            setter = _setter(where, rule_key + ("set",), rule.get("set"))
        else:
            when_key, when, setter = rule_key, rule, {}
        _check_when(where, when_key, when, axes)
        rules.append(Rule(when, setter, rule_key))
    return rules


def _check_when(where: _Where, key: Key, when: dict[str, Any], axes: dict[str, list[Entry]]):
    """Every value a rule matches on must name something the matrix holds."""
    _check_keys(where, key, when, MATCH_KEYS | set(PARAM_MATCH_KEYS))
    for k, expected in when.items():
        values = expected if isinstance(expected, list) else [expected]
        if k in ("seed", "fold"):
            _int_list(where, key + (k,), values)
            continue
        if k in PARAM_MATCH_KEYS:
            _check_param_match(where, key, k, _mapping(where, key + (k,), expected), when, axes)
            continue
        kind = k + "s"
        in_matrix = sorted({e.name for e in axes[kind]})
        for j, name in enumerate(values):
            at = key + (k, j) if isinstance(expected, list) else key + (k,)
            _known(where, at, kind, name)
            if name not in in_matrix:
                raise where.error(
                    at, f"{k} {name!r} is not in matrix.{kind} ({', '.join(in_matrix)})"
                )


def _check_param_match(
    where: _Where, key: Key, k: str, expected: dict, when: dict, axes: dict[str, list[Entry]]
) -> None:
    """``model_params``/``method_params`` keys must be parameters of a plugin they can match."""
    kind = PARAM_MATCH_KEYS[k]
    named = when.get(kind[:-1])
    names = set(named if isinstance(named, list) else [named]) if named else None
    candidates = {e.name for e in axes[kind] if names is None or e.name in names}
    known: set[str] = set()
    for name in candidates:
        known |= set(plugin_params(plugins.get(kind, name)))
    for param in expected:
        if param not in known:
            close = difflib.get_close_matches(str(param), sorted(known), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise where.error(
                key + (k, param),
                f"no {kind[:-1]} this rule can match ({', '.join(sorted(candidates))}) has a "
                f"parameter {param!r}.{hint}",
            )


def _setter(where: _Where, key: Key, value: Any) -> dict[str, dict[str, Any]]:
    setter = _mapping(where, key, value)
    _check_keys(where, key, setter, SET_KEYS)
    out = {}
    for part, values in setter.items():
        values = _mapping(where, key + (part,), values)
        if part == "training":
            _settings_part(where, key + (part,), values, TrainingSettings)
        elif part == "window":
            _settings_part(where, key + (part,), values, WindowSettings)
        out[part] = dict(values)
    return out


def _compare(where: _Where, value: Any, methods: list[Entry]) -> dict[str, Any] | None:
    """``compare: {reference: full, fraction: 0.95}`` or ``{reference: full, f1: 0.8}``: the
    common time-to-target of the suite's comparisons (read by the reports)."""
    if value is None:
        return None
    key: Key = ("compare",)
    given = _mapping(where, key, value)
    _check_keys(where, key, given, COMPARE_KEYS)
    if "fraction" in given and "f1" in given:
        raise where.error(key, "give either fraction (of the reference's best F1) or f1, not both")
    reference = given.get("reference", "full")
    _known(where, key + ("reference",), "methods", reference)
    in_matrix = sorted({m.name for m in methods})
    if reference not in in_matrix:
        raise where.error(
            key + ("reference",),
            f"reference method {reference!r} is not in matrix.methods ({', '.join(in_matrix)})",
        )
    unit = Param(0.95, min=0, min_exclusive=True, max=1)
    out: dict[str, Any] = {"reference": reference}
    target = "f1" if "f1" in given else "fraction"
    try:
        out[target] = unit.check(given.get(target, 0.95))
    except HarbenchError as exc:
        raise where.error(key + (target,), str(exc)) from None
    return out


def _executor(where: _Where, value: Any) -> dict[str, Any]:
    key: Key = ("executor",)
    given = dict(_mapping(where, key, value))
    base = {k: given.pop(k) for k in ("name", "workers") if k in given}
    try:
        settings = ExecutorSettings.from_dict(base)
    except HarbenchError as exc:
        where.fail(key, exc)
    _known(where, key + ("name",), "executors", settings.name)
    try:
        options = executor_options(settings.name, given)
    except HarbenchError as exc:
        where.fail(key, exc)
    return {**settings.to_dict(), **options}


def _matches(rule: Rule, cell: dict[str, Any], model_params: dict, method_params: dict) -> bool:
    for k, expected in rule.when.items():
        if k in PARAM_MATCH_KEYS:
            params = model_params if k == "model_params" else method_params
            if any(params.get(pk) != pv for pk, pv in expected.items()):
                return False
            continue
        allowed = expected if isinstance(expected, list) else [expected]
        if cell[k] not in allowed:
            return False
    return True


def defaults_for(kind: str, name: str) -> dict[str, Any]:
    """The default parameters of plugin ``name`` of ``kind`` (for docs and listings)."""
    return defaults_of(plugin_params(plugins.get(kind, name)))
