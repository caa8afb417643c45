"""YAML suite -> validated Suite -> expand() -> [RunSpec].

Every error names the file, the line and the key, and says what was expected.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.data.harmonise import Harmonisation
from harbench.data.protocols import PROTOCOLS
from harbench.params import resolve_params

TOP_KEYS = {
    "name",
    "description",
    "defaults",
    "matrix",
    "exclude",
    "overrides",
    "executor",
    "skip_missing_datasets",
}
DEFAULT_KEYS = {"window", "protocol", "training", "pretrain"}
MATRIX_KEYS = {"datasets", "models", "methods", "seeds", "folds"}
MATCH_KEYS = {"dataset", "model", "method", "seed", "fold"}
SET_KEYS = {"window", "protocol", "training", "model", "method"}
WINDOW_KEYS = {"seconds": 4.0, "step": 2.0, "harmonise": None}

TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 30,
    "batch_size": 64,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "patience": 8,
    "lr_patience": 3,
    "lr_factor": 0.5,
    "val_fraction": 0.2,
    "monitor": "val_f1",
    "budget": None,
    "measure_latency": False,
}
PRETRAIN_DEFAULTS: dict[str, Any] = {
    "objective": "mae",
    "models": None,
    "datasets": None,
    "weight_decay": 0.05,
    "seed": 0,
    "mask_ratio": 0.75,
    "epochs": 20,
    "batch_size": 128,
    "lr": 1e-3,
}


class SuiteError(HarbenchError):
    """A problem in a suite file, located by file, line and key."""


@dataclass(frozen=True)
class RunSpec:
    """One cell of a suite: everything that determines a run's result, and nothing else."""

    dataset: str
    model: str
    model_params: dict[str, Any]
    method: str
    method_params: dict[str, Any]
    protocol: dict[str, Any]
    fold: int
    seed: int
    window: dict[str, Any]
    training: dict[str, Any]
    pretrain: dict[str, Any] | None = None
    suite: str = field(default="", compare=False)

    def canonical(self) -> dict[str, Any]:
        """The identity of the run (the suite that asked for it is not part of it)."""
        data = asdict(self)
        data.pop("suite")
        return data

    @property
    def run_id(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def model_label(self) -> str:
        return _label(self.model, self.model_params, "models")

    @property
    def method_label(self) -> str:
        return _label(self.method, self.method_params, "methods")

    def short(self) -> str:
        labels = f"{self.dataset} {self.model_label} {self.method_label}"
        return f"{labels} fold {self.fold} seed {self.seed}"


def _label(name: str, params: dict[str, Any], kind: str) -> str:
    """``name(k=v,...)`` listing the parameters that differ from the plugin's defaults."""
    try:
        defaults = plugins.get(kind, name).defaults
    except HarbenchError:
        defaults = {}
    diff = {k: v for k, v in sorted(params.items()) if defaults.get(k, object()) != v}
    if not diff:
        return name
    return f"{name}(" + ",".join(f"{k}={v}" for k, v in diff.items()) + ")"


@dataclass
class Suite:
    name: str
    path: Path
    description: str
    specs: list[RunSpec]
    executor: dict[str, Any]
    skip_missing_datasets: bool = False

    def expand(self) -> list[RunSpec]:
        return list(self.specs)


# ---- locating keys in the YAML source ---------------------------------------------------------


def _locate(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map every key path in the document to its 1-based line."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _locate(value_node, path + (key,), out)
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _locate(item, path + (i,), out)
    return out


class _Where:
    """Builds located errors for one suite file."""

    def __init__(self, path: Path, lines: dict[tuple, int]):
        self.path = path
        self.lines = lines

    def line(self, key_path: tuple) -> int | None:
        for n in range(len(key_path), -1, -1):
            if key_path[:n] in self.lines:
                return self.lines[key_path[:n]]
        return None

    def error(self, key_path: tuple, message: str) -> SuiteError:
        line = self.line(key_path)
        key = ".".join(str(k) for k in key_path) or "(top level)"
        at = f"{self.path}, line {line}" if line else str(self.path)
        return SuiteError(f"{at}, key '{key}': {message}")


# ---- parsing -----------------------------------------------------------------------------------


def load(path: str | Path) -> Suite:
    """Read, validate and expand a suite file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SuiteError(f"cannot read suite {path}: {exc.strerror or exc}") from None
    return loads(text, path)


def loads(text: str, path: str | Path = "<suite>") -> Suite:
    """Validate and expand suite YAML ``text`` (``path`` is used in messages)."""
    path = Path(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"{path}{line}: malformed YAML: {problem}") from None
    where = _Where(path, _locate(node) if node is not None else {})
    if not isinstance(data, dict):
        raise where.error((), "a suite is a mapping with at least a 'matrix' key")
    _check_keys(where, (), data, TOP_KEYS)
    if "matrix" not in data:
        raise where.error((), "missing 'matrix' (datasets, models, methods to combine)")
    name = data.get("name") or path.stem
    defaults = _mapping(where, ("defaults",), data.get("defaults", {}))
    _check_keys(where, ("defaults",), defaults, DEFAULT_KEYS)
    matrix = _mapping(where, ("matrix",), data["matrix"])
    _check_keys(where, ("matrix",), matrix, MATRIX_KEYS)
    for required in ("datasets", "models", "methods"):
        if required not in matrix:
            raise where.error(("matrix",), f"missing '{required}': a list of names")
    executor = _mapping(where, ("executor",), data.get("executor", {"name": "local"}))
    if "name" in executor:
        _known(where, ("executor", "name"), "executors", executor["name"])

    datasets = _entries(where, ("matrix", "datasets"), matrix["datasets"], "datasets")
    models = _entries(where, ("matrix", "models"), matrix["models"], "models")
    methods = _entries(where, ("matrix", "methods"), matrix["methods"], "methods")
    seeds = _int_list(where, ("matrix", "seeds"), matrix.get("seeds", [0]))
    base_window = _window(where, ("defaults", "window"), defaults.get("window", {}))
    base_protocol = _mapping(where, ("defaults", "protocol"), defaults.get("protocol", {}))
    if "folds" in matrix:
        folds_key, folds_value = ("matrix", "folds"), matrix["folds"]
    else:
        folds_key, folds_value = (
            ("defaults", "protocol", "folds"),
            base_protocol.get("folds", "all"),
        )
    base_training = _training(where, ("defaults", "training"), defaults.get("training", {}))
    pretrain = _pretrain(where, ("defaults", "pretrain"), defaults.get("pretrain"))
    excludes = _rules(where, ("exclude",), data.get("exclude", []), with_set=False)
    overrides = _rules(where, ("overrides",), data.get("overrides", []), with_set=True)

    specs: list[RunSpec] = []
    seen: set[str] = set()
    lodo = base_protocol.get("name") == "lodo"
    if lodo:
        _check_lodo(where, datasets, pretrain)
    for (ds, _ds_params, _ds_path), (model, model_params, m_path), (
        method,
        method_params,
        me_path,
    ) in itertools.product(datasets, models, methods):
        plugin = plugins.get("datasets", ds)
        protocol = dict(plugin.protocol)
        if lodo:
            protocol = _lodo_inner(where, base_protocol, plugin)
        elif base_protocol:
            protocol = {k: v for k, v in base_protocol.items() if k != "folds"}
            if "name" not in protocol:
                protocol["name"] = plugin.protocol.get("name", "loso")
            if protocol["name"] == "fixed" and "test_subjects" not in protocol:
                protocol = _official_split(where, plugin, protocol)
        for seed in seeds:
            n_folds = _fold_count(where, ("defaults", "protocol"), plugin, protocol)
            folds = _folds(where, folds_key, folds_value, n_folds)
            for fold in folds:
                cell = {"dataset": ds, "model": model, "method": method, "seed": seed, "fold": fold}
                if any(_matches(rule, cell, model_params, method_params) for rule in excludes):
                    continue
                window, prot = dict(base_window), dict(protocol)
                training, mp, mep = dict(base_training), dict(model_params), dict(method_params)
                for rule in overrides:
                    if _matches(rule, cell, model_params, method_params):
                        s = rule["set"]
                        window.update(s.get("window", {}))
                        prot.update(s.get("protocol", {}))
                        training.update(s.get("training", {}))
                        mp.update(s.get("model", {}))
                        mep.update(s.get("method", {}))
                mp = _resolve(where, m_path, "model", model, mp)
                mep = _resolve(where, me_path, "method", method, mep)
                stage = _stage_for(pretrain, model)
                if lodo and stage is not None:
                    stage["datasets"] = [d for d, _, _ in datasets if d != ds]
                spec = RunSpec(
                    dataset=ds,
                    model=model,
                    model_params=mp,
                    method=method,
                    method_params=mep,
                    protocol=prot,
                    fold=fold,
                    seed=seed,
                    window=window,
                    training=training,
                    pretrain=stage,
                    suite=str(name),
                )
                if spec.run_id not in seen:
                    seen.add(spec.run_id)
                    specs.append(spec)
    if not specs:
        raise where.error(("matrix",), "the matrix expands to no runs (everything excluded?)")
    skip_missing = data.get("skip_missing_datasets", False)
    if not isinstance(skip_missing, bool):
        raise where.error(
            ("skip_missing_datasets",), f"expected true or false, got {skip_missing!r}"
        )
    return Suite(str(name), path, str(data.get("description", "")), specs, executor, skip_missing)


# ---- validators ----------------------------------------------------------------------------------


def _mapping(where: _Where, key: tuple, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(key, f"expected a mapping, got {type(value).__name__} {value!r}")
    return value


def _check_keys(where: _Where, key: tuple, value: dict, allowed: set[str]) -> None:
    import difflib

    for k in value:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), sorted(allowed), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise where.error(
                key + (k,), f"unknown key.{hint} Expected one of: {', '.join(sorted(allowed))}"
            )


def _known(where: _Where, key: tuple, kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise where.error(key, f"expected a {kind[:-1]} name, got {name!r}")
    try:
        plugins.get(kind, name)
    except HarbenchError as exc:
        raise where.error(key, str(exc)) from None


def _sweep(params: dict[str, Any]) -> list[dict[str, Any]]:
    """{r: [4, 8], alpha: 16} -> [{r: 4, alpha: 16}, {r: 8, alpha: 16}]."""
    keys = sorted(params)
    values = [v if isinstance(v, list) else [v] for v in (params[k] for k in keys)]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _entries(where: _Where, key: tuple, value: Any, kind: str) -> list[tuple[str, dict, tuple]]:
    """A list of names or {name: {param: value | [sweep]}} -> [(name, params, key path)]."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error(key, f"expected a non-empty list of {kind}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            _known(where, key + (i,), kind, item)
            out.append((item, {}, key + (i,)))
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            _known(where, key + (i, name), kind, name)
            params = _mapping(where, key + (i, name), params)
            if (
                params.get("targets")
                and isinstance(params["targets"], list)
                and all(isinstance(t, str) for t in params["targets"])
            ):
                params = {**params, "targets": [params["targets"]]}  # a target list is one value
            for combo in _sweep(params):
                out.append((name, combo, key + (i, name)))
        else:
            raise where.error(key + (i,), f"expected a {kind[:-1]} name or {{name: {{params}}}}")
    return out


def _resolve(where: _Where, key: tuple, kind: str, name: str, params: dict) -> dict[str, Any]:
    plugin = plugins.get(kind + "s", name)
    try:
        return resolve_params(kind, name, plugin.defaults, params)
    except HarbenchError as exc:
        raise where.error(key, str(exc)) from None


def _int_list(where: _Where, key: tuple, value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise where.error(key, f"expected a list of integers, got {value!r}")
    return value


def _window(where: _Where, key: tuple, value: Any) -> dict[str, Any]:
    window = _mapping(where, key, value)
    _check_keys(where, key, window, set(WINDOW_KEYS))
    for k, v in window.items():
        if k == "harmonise":
            try:
                Harmonisation.coerce(v)
            except (HarbenchError, TypeError) as exc:
                raise where.error(key + (k,), str(exc)) from None
            continue
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            raise where.error(key + (k,), f"expected a positive number of seconds, got {v!r}")
    return window


def _training(where: _Where, key: tuple, value: Any) -> dict[str, Any]:
    given = _mapping(where, key, value)
    try:
        merged = resolve_params("training", "defaults", TRAINING_DEFAULTS, given)
    except HarbenchError as exc:
        bad = next((k for k in given if k not in TRAINING_DEFAULTS), None)
        raise where.error(key + ((bad,) if bad else ()), str(exc)) from None
    for k in ("epochs", "batch_size"):
        if merged[k] < 1:
            raise where.error(key + (k,), f"expected a positive integer, got {merged[k]!r}")
    if merged["budget"] is not None:
        budget = _mapping(where, key + ("budget",), merged["budget"])
        if set(budget) not in ({"per_class"}, {"fraction"}):
            raise where.error(key + ("budget",), "expected {per_class: N} or {fraction: F}")
    if merged["monitor"] not in ("val_f1", "val_loss"):
        raise where.error(key + ("monitor",), "expected val_f1 or val_loss")
    return merged


def _pretrain(where: _Where, key: tuple, value: Any) -> dict[str, Any] | None:
    if value in (None, False):
        return None
    given = _mapping(where, key, value)
    try:
        return resolve_params("pretrain", "stage", PRETRAIN_DEFAULTS, given)
    except HarbenchError as exc:
        raise where.error(key, str(exc)) from None


def _stage_for(pretrain: dict[str, Any] | None, model: str) -> dict[str, Any] | None:
    """The pretraining stage that applies to ``model`` (None when it is not listed)."""
    if pretrain is None:
        return None
    listed = pretrain.get("models")
    if listed is not None and model not in listed:
        return None
    return {k: v for k, v in pretrain.items() if k != "models"}


def _official_split(where: _Where, dataset, protocol: dict[str, Any]) -> dict[str, Any]:
    """``fixed`` without test subjects: the dataset's published train/test split."""
    split = dataset.official_split
    if not split or not split.get("test_subjects"):
        raise where.error(
            ("defaults", "protocol"),
            f"protocol fixed needs test_subjects: dataset {dataset.name!r} has no official split",
        )
    return {**protocol, "test_subjects": list(split["test_subjects"])}


def _check_lodo(where: _Where, datasets: list, pretrain: dict[str, Any] | None) -> None:
    """Leave-one-dataset-out needs several datasets and a pretraining stage to pool the others."""
    names = [d for d, _, _ in datasets]
    if len(set(names)) < 2:
        raise where.error(("matrix", "datasets"), "protocol lodo needs at least two datasets")
    if pretrain is None:
        raise where.error(
            ("defaults", "protocol", "name"),
            "protocol lodo pretrains on every dataset but the held-out one: add defaults.pretrain "
            "(and defaults.window.harmonise so that all datasets share channels and rate)",
        )


def _lodo_inner(where: _Where, base: dict[str, Any], dataset) -> dict[str, Any]:
    """The protocol used on the held-out dataset: ``inner``, else the dataset's own default."""
    inner = base.get("inner", dataset.protocol)
    inner = dict(_mapping(where, ("defaults", "protocol", "inner"), inner))
    if inner.get("name") == "lodo":
        raise where.error(
            ("defaults", "protocol", "inner"), "lodo cannot be its own inner protocol"
        )
    return {**inner, "scheme": "lodo"}


def _fold_count(where: _Where, key: tuple, dataset, protocol: dict[str, Any]) -> int:
    name = protocol.get("name", "loso")
    if name not in PROTOCOLS:
        raise where.error(
            key + ("name",), f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}"
        )
    if name == "loso":
        return len(dataset.subjects)
    if name == "subject_groups":
        return int(protocol.get("groups", 5))
    if name == "window_kfold":
        return int(protocol.get("k", 5))
    return 1


def _folds(where: _Where, key: tuple, value: Any, n_folds: int) -> list[int]:
    if value == "all":
        return list(range(n_folds))
    folds = _int_list(where, key, value)
    bad = [f for f in folds if not 0 <= f < n_folds]
    if bad:
        raise where.error(
            key, f"fold {bad[0]} out of range: this protocol has {n_folds} folds (0..{n_folds - 1})"
        )
    return folds


def _rules(where: _Where, key: tuple, value: Any, *, with_set: bool) -> list[dict[str, Any]]:
    if value in (None, []):
        return []
    if not isinstance(value, list):
        raise where.error(key, "expected a list of rules")
    rules = []
    for i, rule in enumerate(value):
        rule = _mapping(where, key + (i,), rule)
        if with_set:
            _check_keys(where, key + (i,), rule, {"when", "set"})
            when = _mapping(where, key + (i, "when"), rule.get("when", {}))
            setter = _mapping(where, key + (i, "set"), rule.get("set", {}))
            _check_keys(where, key + (i, "set"), setter, SET_KEYS)
            if "training" in setter:
                _training(where, key + (i, "set", "training"), setter["training"])
        else:
            when, setter = rule, {}
        _check_keys(
            where,
            key + (i,) + (("when",) if with_set else ()),
            when,
            MATCH_KEYS | {"model_params", "method_params"},
        )
        rules.append({"when": when, "set": setter})
    return rules


def _matches(
    rule: dict[str, Any], cell: dict[str, Any], model_params: dict, method_params: dict
) -> bool:
    for k, expected in rule["when"].items():
        if k == "model_params" or k == "method_params":
            params = model_params if k == "model_params" else method_params
            if any(params.get(pk) != pv for pk, pv in expected.items()):
                return False
            continue
        allowed = expected if isinstance(expected, list) else [expected]
        if cell[k] not in allowed:
            return False
    return True
