"""YAML suite -> validated Suite -> expand() -> the plan: one RunSpec per cell.

``load`` reads the file (YAML 1.2 scalars, no duplicate keys, bounded aliases: see
``harbench.yamlsafe``) and checks every value where it is parsed, against the typed settings
(``harbench.settings``) and the plugin registries; ``Suite.expand`` builds the runs on first use
and checks what only a cell knows (overrides applied, model/method compatibility). Every error
names the file, the line and the full key path (``defaults.training.lr``,
``matrix.methods.2.lora.r``) and says what was expected.

Modules: ``located`` (errors with file/line/key), ``axes`` (the matrix and protocols), ``rules``
(exclude, overrides), ``blocks`` (pretraining, LODO, compare, executor), ``plan`` (expansion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harbench import plugins, yamlsafe
from harbench.artifacts.request import ArtifactSettings
from harbench.contracts import HarbenchError
from harbench.data import protocols
from harbench.settings import TrainingSettings, WindowSettings
from harbench.spec import RunSpec
from harbench.suite import bounds, plan
from harbench.suite.axes import (
    Subset,
    bind_protocol,
    budget_list,
    dataset_entries,
    entries,
    entry_key,
    fold_list,
    seed_list,
    settings_part,
)
from harbench.suite.blocks import (
    check_lodo,
    check_shared_recordings,
    compare_block,
    executor_block,
    pretrain_stage,
)
from harbench.suite.located import (
    Collector,
    SuiteError,
    Where,
    check_keys,
    mapping,
    sources_of,
)
from harbench.suite.plan import Parts
from harbench.suite.rules import rule_list

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
DEFAULT_KEYS = {"window", "protocol", "training", "pretrain", "artifacts"}
MATRIX_KEYS = {"datasets", "models", "methods", "seeds", "folds", "budgets"}


@dataclass
class Suite:
    """A validated suite; ``expand()`` builds its runs on first use."""

    name: str
    path: Path
    description: str
    executor: dict[str, Any]
    skip_missing_datasets: bool = False
    compare: dict[str, Any] | None = None
    parts: Parts | None = field(default=None, repr=False)
    artifacts: dict[str, Any] = field(default_factory=dict)  # not part of any run's identity
    _plan: list[RunSpec] | None = field(default=None, repr=False)

    def expand(self) -> list[RunSpec]:
        """Every run of the suite, in matrix order (built once, then reused)."""
        if self._plan is None:
            if self.parts is None:
                raise HarbenchError(f"suite {self.name!r} has nothing to expand")
            self._plan = list(plan.expand(self.name, self.parts))
            if not self._plan:
                raise self.parts.where.error(
                    ("matrix",), "the matrix expands to no runs (everything excluded?)"
                )
        return self._plan

    @property
    def specs(self) -> list[RunSpec]:
        """The plan (same as ``expand()``)."""
        return self.expand()


def load(path: str | Path) -> Suite:
    """Read and validate a suite file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"cannot read suite {path}: {exc.strerror or exc}") from None
    return loads(bounds.decode(path, raw), path)


def loads(text: str, path: str | Path = "<suite>") -> Suite:
    """Validate suite YAML ``text`` (``path`` is used in messages)."""
    path = Path(path)
    plugins.registry()  # a plugin conflict is reported as such, never located in the suite
    try:
        document = yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        line = f", line {exc.line}" if exc.line else ""
        key = f", key '{'.'.join(exc.path)}'" if exc.path else ""
        raise SuiteError(f"{path}{line}{key}: {exc}") from None
    where = Where(path, document.lines)
    data = document.data
    if not isinstance(data, dict):
        raise where.error((), "a suite is a mapping with at least a 'matrix' key")
    errors = Collector()  # independent parts are each checked: every problem is reported at once
    errors.attempt(check_keys, where, (), data, TOP_KEYS)
    if "matrix" not in data:
        errors.errors.append(
            where.error((), "missing 'matrix' (datasets, models, methods to combine)")
        )
        errors.raise_any()
    name = errors.attempt(_name, where, data, path, default="")
    description = data.get("description", "")
    if not isinstance(description, str):
        errors.errors.append(where.error(("description",), f"expected text, got {description!r}"))
    skip_missing = data.get("skip_missing_datasets", False)
    if not isinstance(skip_missing, bool):
        errors.errors.append(where.error(
            ("skip_missing_datasets",), f"expected true or false, got {skip_missing!r}"
        ))
    executor = errors.attempt(executor_block, where, data.get("executor"))
    parts = errors.attempt(_parts, where, data)
    artifacts = errors.attempt(settings_part, where, ("defaults", "artifacts"),
                               (data.get("defaults") or {}).get("artifacts"), ArtifactSettings)
    errors.raise_any()
    compare = compare_block(where, data.get("compare"), parts.methods)
    return Suite(name, path, description, executor, skip_missing, compare, parts,
                 artifacts=artifacts)


def _name(where: Where, data: dict[str, Any], path: Path) -> str:
    name = data.get("name") or path.stem
    if not isinstance(name, str):
        raise where.error(("name",), f"expected a suite name (text), got {name!r}")
    bounds.check_name(where, name, written="name" in data)
    return name


def _parts(where: Where, data: dict[str, Any]) -> Parts:
    """Check every part of a suite document and collect what its plan is built from."""
    errors = Collector()
    defaults = errors.attempt(mapping, where, ("defaults",), data.get("defaults"), default={})
    errors.attempt(check_keys, where, ("defaults",), defaults, DEFAULT_KEYS)
    matrix = mapping(where, ("matrix",), data["matrix"])
    errors.attempt(check_keys, where, ("matrix",), matrix, MATRIX_KEYS)
    for required in ("datasets", "models", "methods"):
        if required not in matrix:
            errors.errors.append(where.error(("matrix",), f"missing '{required}': a list of names"))
    errors.raise_any()
    datasets = errors.attempt(dataset_entries, where, ("matrix", "datasets"), matrix["datasets"])
    models = errors.attempt(entries, where, ("matrix", "models"), matrix["models"], "models")
    methods = errors.attempt(entries, where, ("matrix", "methods"), matrix["methods"], "methods")
    seeds = errors.attempt(seed_list, where, ("matrix", "seeds"), matrix.get("seeds", [0]))

    window_key = ("defaults", "window")
    window = errors.attempt(
        settings_part, where, window_key, defaults.get("window"), WindowSettings
    )
    training_key = ("defaults", "training")
    training = errors.attempt(
        settings_part, where, training_key, defaults.get("training"), TrainingSettings
    )
    base_protocol = errors.attempt(mapping, where, ("defaults", "protocol"),
                                   defaults.get("protocol"))
    errors.raise_any()
    base_protocol = dict(base_protocol)
    budgets = budget_list(where, ("matrix", "budgets"), matrix.get("budgets"), training)
    pretrain = pretrain_stage(where, ("defaults", "pretrain"), defaults.get("pretrain"), models)
    if "folds" in matrix:
        folds_key, folds_value = ("matrix", "folds"), matrix["folds"]
    else:
        folds_key = ("defaults", "protocol", "folds")
        folds_value = base_protocol.get("folds", "all")
    base_protocol.pop("folds", None)
    lodo = base_protocol.get("name") == "lodo"
    if lodo:
        check_lodo(where, datasets, pretrain)
    check_shared_recordings(where, datasets, pretrain, lodo)

    bound, folds = {}, {}
    for entry in datasets:
        key = entry_key(entry)
        bound[key] = bind_protocol(where, entry, base_protocol, {})
        view = Subset(plugins.get("datasets", entry.name), entry.params.get("subjects"))
        n_folds = protocols.fold_count(view, bound[key])
        folds[key] = fold_list(where, folds_key, folds_value, n_folds, entry.name)
    axes = {"models": len(models), "methods": len(methods), "seeds": len(seeds),
            "budgets": len(budgets)}
    bounds.check_size(where, axes, {k: len(v) for k, v in folds.items()})

    axes = {"datasets": datasets, "models": models, "methods": methods}
    excludes = rule_list(where, ("exclude",), data.get("exclude"), axes, with_set=False)
    overrides = rule_list(where, ("overrides",), data.get("overrides"), axes, with_set=True)
    return Parts(
        where=where,
        datasets=datasets,
        models=models,
        methods=methods,
        seeds=seeds,
        budgets=budgets,
        folds=folds,
        every_fold=folds_value == "all",
        protocols=bound,
        protocol_sources=sources_of(("defaults", "protocol"), base_protocol),
        window=window,
        window_sources=sources_of(window_key, window),
        training=training,
        training_sources=sources_of(training_key, training),
        pretrain=pretrain,
        lodo=lodo,
        excludes=excludes,
        overrides=overrides,
    )
