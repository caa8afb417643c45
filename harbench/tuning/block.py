"""The suite's ``tuning:`` block: the search space of each method, the one budget of trials and
where trials are scored, checked where it is written (file, line, key) before any run.

```yaml
tuning:
  trials: 12             # per method (and per study): equal for every method compared
  seed: 0                # TPE's seed and the trials' training seed
  pruner: median         # median | halving | none (on the per-epoch validation macro-F1)
  startup: 4             # trials before TPE models the space and pruning starts
  parallel: 1            # trials of one study asked at once (each sees the same history)
  dev_targets: [2, 5]    # subject_adaptation: the targets tuned on, never reported
  score: validation      # validation | development (dev_targets' later part; never reported)
  space:                 # every method
    training.lr: {log_uniform: [1.0e-4, 1.0e-2]}
  methods:               # per method, on top of `space`
    lora: {method.r: {categorical: [2, 4, 8]}}
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.settings import (
    TUNING_MAX_TRIALS,
    TUNING_PARAMS,
    TUNING_PRUNERS,
    TrainingSettings,
    plugin_params,
    resolve,
)
from harbench.suite.located import Key, Where, check_keys, known, mapping

BLOCK_KEYS = {"trials", "seed", "pruner", "startup", "parallel", "dev_targets", "score", "space",
              "methods"}
KINDS = ("log_uniform", "uniform", "int", "log_int", "categorical")
PARTS = ("training", "method", "model")  # what a dimension may name: training.lr, method.r, ...
PRUNERS = TUNING_PRUNERS
MAX_TRIALS = TUNING_MAX_TRIALS
PARAMS = TUNING_PARAMS  # the block's own keys (harbench.settings: rendered in docs/settings.md)



@dataclass(frozen=True)
class Dimension:
    """One searched setting: ``part.name`` drawn from ``kind`` over ``values`` (bounds or
    choices)."""

    part: str
    name: str
    kind: str
    values: tuple[Any, ...]

    @property
    def key(self) -> str:
        return f"{self.part}.{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {self.kind: list(self.values)}


@dataclass(frozen=True)
class Tuning:
    """A checked tuning block (the suite's default, or a cell's after its overrides)."""

    trials: int
    seed: int = 0
    pruner: str = "median"
    startup: int | None = None
    parallel: int = 1
    dev_targets: tuple[int, ...] | None = None
    space: dict[str, Dimension] = field(default_factory=dict)
    methods: dict[str, dict[str, Dimension]] = field(default_factory=dict)
    score: str = "validation"

    @property
    def startup_trials(self) -> int:
        """Trials drawn at random before TPE and the pruner act (default: a third of the
        budget, at least one)."""
        return self.startup if self.startup is not None else max(1, self.trials // 3)

    def space_of(self, method: str) -> dict[str, Dimension]:
        """The dimensions searched for ``method``: the common space, then its own."""
        return {**self.space, **self.methods.get(method, {})}

    def settings(self) -> dict[str, Any]:
        """What shapes a study's trials (part of its key): the budget, sampler, pruner and
        (when not the default) what trials are scored on."""
        out = {"trials": self.trials, "seed": self.seed, "pruner": self.pruner,
               "startup": self.startup_trials, "parallel": self.parallel}
        if self.score != "validation":
            out["score"] = self.score
        return out


def parse(where: Where, key: Key, value: Any, methods: list[Any]) -> Tuning | None:
    """The ``tuning`` block at ``key`` (None when absent), each dimension checked against the
    setting it names for every method it applies to."""
    if value is None:
        return None
    given = mapping(where, key, value)
    return parse_mapping(where, key, given, methods)


def parse_mapping(where: Where, key: Key, given: dict[str, Any], methods: list[Any]) -> Tuning:
    check_keys(where, key, given, BLOCK_KEYS)
    if "trials" not in given:
        raise where.error(key, "missing 'trials': the budget of trials of every method")
    trials = _checked(where, key, "trials", given)
    seed = _checked(where, key, "seed", given)
    pruner = _checked(where, key, "pruner", given)
    startup = _checked(where, key, "startup", given)
    parallel = _checked(where, key, "parallel", given)
    score = _checked(where, key, "score", given)
    dev = given.get("dev_targets")
    if dev is not None:
        if not (isinstance(dev, list) and dev and all(
                isinstance(s, int) and not isinstance(s, bool) for s in dev)):
            raise where.error(key + ("dev_targets",), f"expected a non-empty list of subject "
                                                      f"ids, got {dev!r}")
        if len(set(dev)) != len(dev):
            raise where.error(key + ("dev_targets",), f"a subject is listed twice in {dev}")
        dev = tuple(sorted(dev))
    names = sorted({m.name for m in methods})
    space = _space(where, key + ("space",), given.get("space", {}), names)
    own = mapping(where, key + ("methods",), given.get("methods", {}))
    per_method: dict[str, dict[str, Dimension]] = {}
    for name, dims in own.items():
        known(where, key + ("methods", name), "methods", name)
        if name not in names:
            raise where.error(key + ("methods", name),
                              f"method {name!r} is not in matrix.methods ({', '.join(names)})")
        per_method[name] = _space(where, key + ("methods", name), dims, [name])
    if not space and not any(per_method.values()):
        raise where.error(key, "nothing to search: give 'space' (every method) or 'methods'")
    if score == "development" and dev is None:
        raise where.error(key + ("score",), "score: development scores trials on the "
                          "development targets' later part: give dev_targets "
                          "(subject_adaptation)")
    return Tuning(trials, seed, pruner, startup, parallel, dev, space, per_method, score)


def _checked(where: Where, key: Key, name: str, given: dict[str, Any]) -> Any:
    param = PARAMS[name]
    try:
        return param.check(given.get(name, param.default))
    except HarbenchError as exc:
        raise where.error(key + (name,), str(exc)) from None


def _space(where: Where, key: Key, value: Any, methods: list[str]) -> dict[str, Dimension]:
    given = mapping(where, key, value)
    out = {}
    for name, spec in given.items():
        out[name] = dimension(where, key + (name,), name, spec, methods)
    return out


def dimension(where: Where, key: Key, name: str, spec: Any, methods: list[str]) -> Dimension:
    """``training.lr: {log_uniform: [1e-4, 1e-2]}`` checked: the part and setting exist, the
    bounds are ordered and every value they allow is accepted by the setting."""
    part, _, setting = str(name).partition(".")
    if part not in PARTS or not setting:
        raise where.error(key, f"expected training.<setting>, method.<param> or model.<param>, "
                               f"got {name!r}")
    spec = mapping(where, key, spec)
    if len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise where.error(key, f"expected one of {{{', '.join(k + ': ...' for k in KINDS)}}}")
    kind, values = next(iter(spec.items()))
    if not isinstance(values, list) or not values:
        raise where.error(key + (kind,), "expected a list: [low, high] or the choices")
    if kind != "categorical":
        values = _bounds(where, key + (kind,), kind, values)
    dim = Dimension(part, setting, kind, tuple(values))
    for value in _probes(dim):
        for method in methods:
            try:
                check_value(dim, value, method)
            except HarbenchError as exc:
                raise where.error(key + (kind,), f"{value!r} for {dim.key}: {exc}") from None
    return dim


def _bounds(where: Where, key: Key, kind: str, values: list[Any]) -> list[Any]:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if len(values) != 2 or not numbers or not all(math.isfinite(v) for v in values):
        raise where.error(key, f"expected [low, high] (two numbers), got {values!r}")
    low, high = values
    if not low < high:
        raise where.error(key, f"expected low < high, got {values!r}")
    if kind.startswith("log") and low <= 0:
        raise where.error(key, f"a log scale needs low > 0, got {low!r}")
    if kind.endswith("int") and not all(isinstance(v, int) for v in values):
        raise where.error(key, f"an int range needs whole bounds, got {values!r}")
    return [low, high]


def _probes(dim: Dimension) -> list[Any]:
    return list(dim.values)  # the bounds (the setting's range is an interval) or every choice


def check_value(dim: Dimension, value: Any, method: str, model: str | None = None) -> None:
    """Refuse ``value`` for ``dim`` (the setting's own check), for ``method`` (or ``model``)."""
    if dim.part == "training":
        if dim.name not in TrainingSettings.params():
            raise HarbenchError(f"no training setting {dim.name!r}")
        TrainingSettings.from_dict({dim.name: value})
        return
    if dim.part == "method":
        declared = plugin_params(plugins.get("methods", method))
        if dim.name not in declared:
            raise HarbenchError(f"method {method!r} has no parameter {dim.name!r} "
                                f"(its parameters: {', '.join(sorted(declared)) or 'none'})")
        resolve(f"method {method!r}", {dim.name: declared[dim.name]}, {dim.name: value})
        return
    if model is not None:
        declared = plugin_params(plugins.get("models", model))
        if dim.name not in declared:
            raise HarbenchError(f"model {model!r} has no parameter {dim.name!r}")
        resolve(f"model {model!r}", {dim.name: declared[dim.name]}, {dim.name: value})
