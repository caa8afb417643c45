"""The plan of a suite: one RunSpec per cell of the matrix, exclusions and overrides applied, each
value checked once (model/method compatibility included), built when first asked for.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harbench import plugins
from harbench.data import protocols
from harbench.settings import PretrainSettings, TrainingSettings, WindowSettings
from harbench.spec import RunSpec, data_fingerprint, versions
from harbench.suite.axes import (
    Entry,
    Subset,
    bind_protocol,
    check_compatible,
    checked_settings,
    entry_key,
    resolve_entry,
)
from harbench.suite.backbone import check_backbone, check_builds
from harbench.suite.located import Collector, Key, SuiteError, Where
from harbench.suite.rules import Rule, matches


@dataclass
class Parts:
    """The checked pieces a suite's plan is built from."""

    where: Where
    datasets: list[Entry]
    models: list[Entry]
    methods: list[Entry]
    seeds: list[int]
    budgets: list[dict[str, Any] | None]  # label budgets swept (matrix.budgets); one = no sweep
    folds: dict[str, list[int]]  # dataset entry path -> folds to run
    every_fold: bool  # folds: all (a protocol changed by an override keeps the folds it has)
    protocols: dict[str, dict[str, Any]]  # dataset entry path -> bound protocol
    protocol_sources: dict[str, Key]
    window: dict[str, Any]
    window_sources: dict[str, Key]
    training: dict[str, Any]
    training_sources: dict[str, Key]
    pretrain: PretrainSettings | None
    pools: dict[str, list[str]]  # held-out dataset -> datasets its stage pools (the protocol's)
    excludes: list[Rule]
    overrides: list[Rule]


def expand(suite_name: str, parts: Parts) -> Iterator[RunSpec]:
    """The runs of the matrix, with exclusions and overrides applied, each checked once."""
    memo = _Memo()
    seen: set[str] = set()
    errors = Collector()  # each distinct problem of a cell once; all of them at the end
    reported: set[str] = set()
    for ds, model, method in itertools.product(parts.datasets, parts.models, parts.methods):
        subjects = ds.params.get("subjects")
        fingerprint = memo(
            data_fingerprint, ds.name, None if subjects is None else tuple(subjects)
        )
        folds = parts.folds[entry_key(ds)]
        for budget, seed, fold in itertools.product(parts.budgets, parts.seeds, folds):
            cell = {
                "dataset": ds.name,
                "model": model.name,
                "method": method.name,
                "seed": seed,
                "fold": fold,
            }
            if any(matches(r, cell, model.resolved, method.resolved) for r in parts.excludes):
                continue
            cfg = _Cell(parts, ds, model, method)
            cfg.training["budget"] = budget
            for rule in parts.overrides:
                if matches(rule, cell, model.resolved, method.resolved):
                    cfg.apply(rule)
            try:
                spec = _spec(parts, memo, cfg, cell, fingerprint, suite_name)
            except SuiteError as exc:
                if str(exc) not in reported and len(reported) < MAX_REPORTED:
                    reported.add(str(exc))
                    errors.errors.append(exc)
                continue
            if spec is None or errors.failed:
                continue
            if spec.run_id not in seen:
                seen.add(spec.run_id)
                yield spec
    errors.raise_any()


MAX_REPORTED = 20  # distinct problems of the cells listed at most


class _Memo:
    """Calls a function once per distinct arguments (compared by their JSON text)."""

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        key = fn.__name__ + _json([a if _plain(a) else repr(a) for a in args])
        if key not in self.results:
            try:
                self.results[key] = fn(*args)
            except SuiteError as exc:  # the same problem is not checked again for every cell
                self.results[key] = exc
        if isinstance(self.results[key], SuiteError):
            raise self.results[key]
        return self.results[key]


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, tuple, dict))


def _spec(
    parts: Parts, memo: _Memo, cfg: _Cell, cell: dict[str, Any], fingerprint: str, suite: str
) -> RunSpec | None:
    """The RunSpec of one cell whose overrides ``cfg`` holds, every value checked; None for a
    fold that a protocol changed by an override does not have (with ``folds: all``)."""
    where, ds, model, method = parts.where, cfg.ds, cfg.model, cfg.method
    protocol = parts.protocols[entry_key(ds)]
    if cfg.protocol:
        protocol, n_folds = memo(
            _rebind_protocol, where, ds, cfg.base_protocol(), cfg.protocol_sources
        )
        if cell["fold"] >= n_folds:
            if parts.every_fold:
                return None
            at = cfg.protocol_sources.get("name") or next(iter(cfg.protocol_sources.values()))
            raise where.error(
                at,
                f"an override gives the protocol of {ds.name!r} {n_folds} folds; "
                f"fold {cell['fold']} does not exist",
            )
    model_params = memo(resolve_entry, where, "models", model, cfg.model_params, cfg.model_src)
    method_params = memo(
        resolve_entry, where, "methods", method, cfg.method_params, cfg.method_src
    )
    memo(check_compatible, where, model, method, method_params)
    training_key, window_key = ("defaults", "training"), ("defaults", "window")
    training = memo(
        checked_settings, where, training_key, cfg.training, TrainingSettings, cfg.training_src
    )
    window = memo(checked_settings, where, window_key, cfg.window, WindowSettings, cfg.window_src)
    window_values = window.to_dict()
    memo(check_builds, where, ds.name, model, model_params, window_values,
         cfg.window_src.get("seconds", window_key))
    memo(check_backbone, where, ds.name, model, method, model_params, method_params,
         window_values)
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
    where: Where, ds: Entry, protocol: dict[str, Any], sources: dict[str, Key]
) -> tuple[dict[str, Any], int]:
    """The protocol of a cell whose overrides change it, checked again, and its fold count."""
    bound = bind_protocol(where, ds, protocol, sources)
    view = Subset(plugins.get("datasets", ds.name), ds.params.get("subjects"))
    return bound, protocols.fold_count(view, bound)


class _Cell:
    """The settings of one cell while overrides are applied, with where each value came from."""

    def __init__(self, parts: Parts, ds: Entry, model: Entry, method: Entry):
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
            if part not in targets:  # `tuning` is read by harbench.tuning.cells
                continue
            store, sources = targets[part]
            store.update(values)
            sources.update({k: rule.path + ("set", part, k) for k in values})

    def base_protocol(self) -> dict[str, Any]:
        """The suite's protocol for this dataset with the overrides' values on top."""
        bound = self.parts.protocols[entry_key(self.ds)]
        if self.protocol.get("name", bound["name"]) != bound["name"]:
            return dict(self.protocol)
        return {**bound, **self.protocol}


def _stage(parts: Parts, model: str, dataset: str) -> dict[str, Any] | None:
    """The pretraining stage that applies to ``model`` (None when it is not listed)."""
    pretrain = parts.pretrain
    if pretrain is None or (pretrain.models is not None and model not in pretrain.models):
        return None
    stage = {k: v for k, v in pretrain.to_dict().items() if k != "models"}
    if stage["seed"] is None:  # follow the run's seed
        del stage["seed"]
    pooled = parts.pools.get(dataset)
    if pooled:
        stage["datasets"] = list(pooled)
        subsets = {e.name: sorted(int(s) for s in e.params["subjects"]) for e in parts.datasets
                   if e.name in pooled and e.params.get("subjects") is not None}
        if subsets:  # a pooled dataset restricted in matrix.datasets stays restricted here
            stage["dataset_subjects"] = subsets
    return stage


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
