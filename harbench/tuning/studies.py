"""Which study each run of a tuned suite belongs to, and what that study's trials train on.

- ``subject_adaptation``: one study per method configuration (all reported targets and seeds
  share it). Its trials adapt to the development targets (``tuning.dev_targets``) with every
  reported target removed from the dataset, so no trial sees a reported target's windows, not
  even as source data; the chosen configuration is frozen for the reported targets.
- every other protocol: one study per fold. A trial trains on the fold's training part and is
  scored on its inner validation split; the fold's test part is never evaluated.

A study's key hashes the canonical specs its trials start from, its search space and its budget,
sampler and pruner settings, so a changed suite is a new study and an unchanged one resumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.settings import TrainingSettings, resolve_plugin_params
from harbench.spec import RunSpec, data_fingerprint, label
from harbench.tuning.block import Dimension, Tuning, parse_mapping

ADAPTATION = "subject_adaptation"


@dataclass(frozen=True)
class Study:
    """One search: the runs its trials train on (params applied per trial) and its space."""

    key: str
    method: str
    label: str  # the method as a reader sees it, before tuning: "lora(r=4)"
    tuning: Tuning
    space: dict[str, Dimension]
    bases: tuple[RunSpec, ...]  # one per development target, or the fold itself
    reported_subjects: tuple[int, ...] = ()  # subjects no trial may see (reported targets)
    family: str = ""  # the key without the fold: the studies of one configuration's folds

    @property
    def epochs(self) -> int:
        return max(int(b.training.get("epochs", 1)) for b in self.bases)


@dataclass
class Assignment:
    """The studies of a suite and the study each tuned run takes its configuration from."""

    studies: dict[str, Study] = field(default_factory=dict)
    of_run: dict[str, str] = field(default_factory=dict)  # run_id -> study key


def cell_block(base: dict[str, Any], overrides: list[Any], spec: RunSpec) -> dict[str, Any] | None:
    """The tuning block of ``spec``'s cell: the suite's, with matching overrides' ``tuning``
    merged over it (``tuning: null`` in an override leaves the cell untuned)."""
    from harbench.suite.rules import matches

    block: dict[str, Any] | None = dict(base) if base is not None else None
    cell = {"dataset": spec.dataset, "model": spec.model, "method": spec.method,
            "seed": spec.seed, "fold": spec.fold}
    for rule in overrides:
        if "tuning" in rule.set and matches(rule, cell, spec.model_params, spec.method_params):
            given = rule.set["tuning"]
            block = None if given is None else {**(block or {}), **given}
    return block


def plan(specs: list[RunSpec], tuning_of: dict[str, Tuning | None]) -> Assignment:
    """The studies behind ``specs`` (``tuning_of``: each run's checked block, None: untuned)."""
    out = Assignment()
    for spec in specs:
        tuning = tuning_of.get(spec.run_id)
        if tuning is None:
            continue
        study = _study(spec, tuning)
        out.studies.setdefault(study.key, study)
        out.of_run[spec.run_id] = study.key
    return out


def _study(spec: RunSpec, tuning: Tuning) -> Study:
    space = tuning.space_of(spec.method)
    reported: tuple[int, ...] = ()
    if spec.protocol.get("name") == ADAPTATION:
        reported = tuple(reported_targets(spec))
        bases = tuple(_dev_run(spec, tuning, i, reported) for i in range(len(tuning.dev_targets)))
    else:
        bases = (replace(spec, seed=tuning.seed),)
    shared = {"space": {k: d.as_dict() for k, d in sorted(space.items())},
              "tuning": tuning.settings(), "code": code_of(bases[0])}
    key = _hash({**shared, "runs": [b.canonical() for b in bases]})
    family = _hash({**shared, "runs": [{k: v for k, v in b.canonical().items() if k != "fold"}
                                       for b in bases]})
    return Study(key, spec.method, label(spec.method, spec.method_params, "methods"), tuning,
                 space, bases, reported, family)


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


TUNING_CODE = frozenset({"harbench.tuning.trial", "harbench.tuning.sampler",
                         "harbench.tuning.pruning", "harbench.tuning.studies",
                         "harbench.tuning.phase"})


def code_of(base: RunSpec) -> str:
    """The code that scores a study's trials: the run's (core and plugins) and tuning's own,
    comments and docstrings aside (:mod:`harbench.codeprint`); changed code is a new study."""
    from harbench import codeprint

    try:
        tuning = codeprint.fingerprint(TUNING_CODE)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        tuning = ""
    return f"{codeprint.for_spec_or_empty(base)}:{tuning}"


def reported_targets(spec: RunSpec) -> list[int]:
    targets = spec.protocol.get("targets")
    if targets is None:
        raise HarbenchError("tuning under subject_adaptation needs protocol.targets listed apart "
                            "from tuning.dev_targets (every subject would be a reported target)")
    return [int(t) for t in targets]


def _dev_run(spec: RunSpec, tuning: Tuning, index: int, reported: tuple[int, ...]) -> RunSpec:
    """The run a trial trains on for development target ``index``: the reported targets are
    removed from the dataset, the protocol's targets are the development targets."""
    every = spec.subjects or list(plugins.get("datasets", spec.dataset).subjects)
    subjects = [s for s in every if s not in reported]
    protocol = {**spec.protocol, "targets": list(tuning.dev_targets)}
    return replace(spec, protocol=protocol, fold=index, seed=tuning.seed,
                   dataset_params={**spec.dataset_params, "subjects": subjects},
                   data_fingerprint=data_fingerprint(spec.dataset, tuple(subjects)))


def check_dev_targets(tuning: Tuning, protocol: dict[str, Any], subjects: list[int]) -> str:
    """Why ``tuning`` cannot tune under ``protocol`` on a dataset of ``subjects`` ("" if it can)."""
    adaptation = protocol.get("name") == ADAPTATION
    dev = list(tuning.dev_targets or [])
    if not adaptation:
        return ("dev_targets applies to subject_adaptation only (other protocols tune on each "
                "fold's inner validation split)") if dev else ""
    if not dev:
        return ("subject_adaptation tunes on development targets: give tuning.dev_targets, "
                "subjects kept apart from protocol.targets")
    targets = protocol.get("targets")
    if targets is None:
        return ("list protocol.targets (the reported targets) without the dev_targets: with "
                "every subject a target, the development targets would be reported too")
    overlap = sorted(set(dev) & set(targets))
    if overlap:
        return (f"dev_targets {overlap} are also reported targets (protocol.targets): a "
                f"configuration would be chosen on the subjects it is tested on")
    unknown = [s for s in dev if subjects and s not in subjects]
    if unknown:
        return f"dev_targets {unknown} are not subjects of the dataset"
    return ""


def apply(spec: RunSpec, params: dict[str, Any]) -> RunSpec:
    """``spec`` with the searched ``params`` ({"training.lr": ..., "method.r": ...}) set, each
    checked by the setting it names."""
    parts: dict[str, dict[str, Any]] = {"training": {}, "method": {}, "model": {}}
    for key, value in params.items():
        part, _, name = key.partition(".")
        parts[part][name] = value
    training = spec.training
    if parts["training"]:
        training = TrainingSettings.from_dict({**spec.training, **parts["training"]}).to_dict()
    method_params = spec.method_params
    if parts["method"]:
        method_params = resolve_plugin_params("methods", spec.method,
                                              {**spec.method_params, **parts["method"]})
    model_params = spec.model_params
    if parts["model"]:
        model_params = resolve_plugin_params("models", spec.model,
                                             {**spec.model_params, **parts["model"]})
    return replace(spec, training=training, method_params=method_params,
                   model_params=model_params)


def tuned(spec: RunSpec, study: Study, params: dict[str, Any]) -> RunSpec:
    """The reported run with the study's chosen ``params``: the study key (and its family: the
    key without the fold), the budget and the chosen values are part of its identity
    (``RunSpec.tuning``)."""
    final = apply(spec, params)
    record = {"study": study.key, "family": study.family, "trials": study.tuning.trials,
              "params": dict(sorted(params.items())), "label": study.label}
    return replace(final, tuning=record)


def budgets_by_comparison(specs: list[RunSpec], tuning_of: dict[str, Tuning | None]
                          ) -> dict[tuple, dict[str, int]]:
    """For each comparison (every setting but the method's), the trials each method gets
    (0: untuned)."""
    out: dict[tuple, dict[str, int]] = {}
    for spec in specs:
        canonical = spec.canonical()
        for name in ("method", "method_params", "tuning"):
            canonical.pop(name, None)
        canonical["training"] = {"budget": spec.training.get("budget")}  # the rest may differ
        canonical["versions"].pop("method", None)
        key = (json.dumps(canonical, sort_keys=True, default=str),)
        tuning = tuning_of.get(spec.run_id)
        out.setdefault(key, {})[spec.method_label] = tuning.trials if tuning else 0
    return out


def parse_cell(where: Any, block: dict[str, Any] | None, methods: list[Any]) -> Tuning | None:
    """A cell's merged block, checked like the suite's (errors located at ``tuning``)."""
    if block is None:
        return None
    return parse_mapping(where, ("tuning",), block, methods)
