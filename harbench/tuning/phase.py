"""The coordinator's tuning phase: run every study of a suite to its budget, then give each tuned
run its study's chosen configuration.

The coordinator owns each study: it asks the sampler for trials, hands them to the executor's
session (the same ``map`` as runs; any executor), and stores each result as it comes back (the
only writer). Work goes in rounds: one batch (``tuning.parallel`` trials) of every unfinished
study at once, so studies of different methods and folds fill the workers side by side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harbench.spec import RunSpec
from harbench.store import Store
from harbench.tuning import pruning, sampler, storage, studies
from harbench.tuning.trial import Trial, TrialResult, execute_trial


@dataclass
class Outcome:
    """The runs to execute (tuned ones carry their configuration) and the tuned runs that cannot
    run (their study has no completed trial), with why."""

    specs: list[RunSpec]
    unusable: list[tuple[RunSpec, str]] = field(default_factory=list)
    trials_run: int = 0


def next_batch(study: studies.Study, stored: list[storage.TrialRecord]) -> list[Trial]:
    """The trials of ``study`` to run now: the missing numbers of the first batch that has any,
    each asked from (and pruned against) the trials of the batches before it."""
    done = {r.number for r in stored}
    missing = [n for n in range(study.tuning.trials) if n not in done]
    if not missing:
        return []
    size = study.tuning.parallel
    start = missing[0] // size * size
    history = [r for r in stored if r.number < start]
    limits = pruning.thresholds(study.tuning.pruner, history, study.tuning.startup_trials)
    out = []
    for number in [n for n in missing if n < start + size]:
        params = sampler.ask(study, history, number)
        runs = [studies.apply(base, params) for base in study.bases]
        out.append(Trial(study.key, number, params, runs,
                         {str(k): v for k, v in limits.items()}, study.label,
                         study.tuning.score))
    return out


def chosen(stored: list[storage.TrialRecord]) -> dict[str, Any] | None:
    """The parameters of the best completed trial (the earliest among equals), None if none."""
    completed = [r for r in stored if r.state == "completed" and r.value is not None]
    if not completed:
        return None
    best = max(completed, key=lambda r: (r.value, -r.number))
    return best.params


def tune(
    specs: list[RunSpec],
    assignment: studies.Assignment,
    store: Store,
    open_session: Callable[[], contextlib.AbstractContextManager[Any]],
    on_trial: Callable[[TrialResult, studies.Study], None] | None = None,
) -> Outcome:
    """Run the studies of ``assignment`` to their budgets (resuming from the store), then the
    runs of ``specs`` with each tuned run's chosen configuration."""
    outcome = Outcome([])
    keys = list(assignment.studies)
    session = None
    with contextlib.ExitStack() as stack:
        while True:
            stored = storage.load(store, keys)
            batch = [t for k in keys for t in next_batch(assignment.studies[k], stored[k])]
            if not batch:
                break
            if session is None:
                session = stack.enter_context(open_session())
            with contextlib.closing(session.map(execute_trial, batch)) as results:
                for trial, result in results:
                    result = _as_result(trial, result)
                    storage.write(store, result, assignment.studies[trial.study])
                    outcome.trials_run += 1
                    if on_trial is not None:
                        on_trial(result, assignment.studies[trial.study])
    stored = storage.load(store, keys)
    for spec in specs:
        key = assignment.of_run.get(spec.run_id)
        if key is None:
            outcome.specs.append(spec)
            continue
        study = assignment.studies[key]
        params = chosen(stored[key])
        if params is None:
            outcome.unusable.append((spec, f"study {key} of {study.label} has no completed "
                                           f"trial of {study.tuning.trials}"))
            continue
        outcome.specs.append(studies.tuned(spec, study, params))
    return outcome


def _as_result(trial: Trial, result: Any) -> TrialResult:
    """A worker's answer, or a failed trial when the worker died (an exception comes back)."""
    if isinstance(result, TrialResult):
        return result
    error = f"{type(result).__name__}: {result}" if isinstance(result, BaseException) else \
        f"unexpected answer {type(result).__name__}"
    return TrialResult(trial.study, trial.number, dict(trial.params), "failed", error=error)


def as_tuned(specs: list[RunSpec], tuning_of: dict[str, Any], store: Store) -> list[RunSpec]:
    """``specs`` with each tuned run whose study is complete in ``store`` given its chosen
    configuration (its identity as stored); the others as planned (for ``validate``, which
    reads and never tunes)."""
    assignment = studies.plan(specs, tuning_of)
    if not assignment.studies:
        return specs
    stored = storage.load(store, assignment.studies)
    out = []
    for spec in specs:
        key = assignment.of_run.get(spec.run_id)
        complete = key is not None and len(stored[key]) >= assignment.studies[key].tuning.trials
        params = chosen(stored[key]) if complete else None
        out.append(spec if params is None else studies.tuned(spec, assignment.studies[key],
                                                               params))
    return out
