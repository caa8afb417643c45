"""The coordinator: plans a suite, skips what is stored, hands the work to an executor, and is the
only writer of the store.

A suite's plan is a small graph: each distinct pretraining stage once, then the runs that need it
(runs that need none start with the stages). Stages and runs go through one session of the
executor, so its workers (or cluster) start once per suite. A stage's checkpoint reaches every
worker through the shared cache folder (HARBENCH_CACHE), so a killed suite resumes without
training a finished stage again. The coordinator reports what happens as plain events
(:mod:`harbench.events`) to a sink; it never prints.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harbench import events as ev
from harbench import plugins, spill, suite
from harbench.artifacts import request as artifacts
from harbench.contracts import Executor, HarbenchError
from harbench.data import preflight
from harbench.settings import ExecutorSettings, ParamError, plugin_params, resolve
from harbench.store import Store, default_db
from harbench.suitelock import suite_lock


@dataclass
class Summary:
    suite: str
    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    db: str = ""
    stages: int = 0  # pretraining stages ensured by this call
    pending: int = 0  # finished results kept beside the store, written by the next run
    stale: int = 0  # stored runs computed by different code (recomputed unless reuse_stale)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


@dataclass(frozen=True)
class Stage:
    """A pretraining stage of the plan: ``spec`` is one run that needs it (any one will do)."""

    key: str
    spec: suite.RunSpec

    @property
    def label(self) -> str:
        objective = (self.spec.pretrain or {}).get("objective", "mae")
        return f"{objective} pretraining of {self.spec.model} for {self.spec.dataset}"


@dataclass(frozen=True)
class StageOutcome:
    key: str
    status: str  # "ok" or "failed"
    error: str = ""


@dataclass(frozen=True)
class Finished:
    """What a worker returns: the stage's outcome or the run's result, and its own time."""

    outcome: Any
    seconds: float


@dataclass
class Plan:
    stages: list[Stage]
    first: list[suite.RunSpec]  # runs that need no stage: they start alongside the stages
    after: list[suite.RunSpec]  # runs that need a stage: they start once the stages are done

    @property
    def phases(self) -> list[list[Any]]:
        return [p for p in ([*self.stages, *self.first], self.after) if p]


def plan(specs: list[suite.RunSpec]) -> Plan:
    """Group ``specs`` under the distinct pretraining stages they need.

    A stage whose checkpoint is already in the cache (a resumed suite) is not planned again:
    its runs start at once and load it.
    """
    from harbench import pretrain

    stages: dict[str, Stage] = {}
    first, after = [], []
    for spec in specs:
        key = pretrain.stage_key(spec) if spec.pretrain is not None else None
        if key is None or stage_cached(key):
            first.append(spec)
            continue
        stages.setdefault(key, Stage(key, spec))
        after.append(spec)
    return Plan(list(stages.values()), first, after)


def stage_cached(key: str) -> bool:
    """Whether stage ``key``'s checkpoint is in the shared cache (in the layout of
    :mod:`harbench.pretrain`: ``<HARBENCH_CACHE>/pretrain/<key>/`` with weights and curves)."""
    from harbench import pretrain

    folder = pretrain.default_dir() / key
    return (folder / "weights.pt").is_file() and (folder / "curves.json").is_file()


def execute(item: Stage | suite.RunSpec, emit: Callable[[Any], None] | None = None) -> Finished:
    """What a worker does with one item of the plan (any process; events go to ``emit``)."""
    emit = emit or ev.discard
    started = time.perf_counter()
    if isinstance(item, Stage):
        return Finished(_ensure(item, emit), time.perf_counter() - started)
    return Finished(_run(item, emit), time.perf_counter() - started)


def _ensure(stage: Stage, emit: Callable[[Any], None]) -> StageOutcome:
    from harbench import pretrain

    emit(ev.StageStarted(stage.key, stage.label))
    try:
        pretrain.ensure_stage(stage.spec)
    except Exception as exc:  # the runs that need it will meet the same error and store it
        return StageOutcome(stage.key, "failed", f"{type(exc).__name__}: {exc}")
    return StageOutcome(stage.key, "ok")


def _run(spec: suite.RunSpec, emit: Callable[[Any], None]) -> Any:
    from harbench import runner

    emit(ev.RunStarted(spec.run_id, spec.short(), int(spec.training.get("epochs", 0))))
    return runner.run_one(spec, emit)  # the runner emits each epoch's EpochEnded


def executor_settings(
    loaded: suite.Suite,
    name: str | None = None,
    workers: int | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The executor plugin and its resolved settings: the suite's block, then the CLI's values.

    ``workers`` is every executor's setting; the rest are the plugin's own ``params``. A
    different executor named on the command line does not inherit the suite's block.
    """
    block = dict(loaded.executor or {})
    block_name = str(block.pop("name", "local"))
    name = name or block_name
    given = block if name == block_name else {}
    given.update(options or {})
    if workers is not None:
        given["workers"] = workers
    engine = plugins.get("executors", name)
    params = {"workers": ExecutorSettings.params()["workers"], **plugin_params(engine)}
    try:
        return engine, resolve(f"executor {name!r}", params, given)
    except ParamError as exc:
        raise HarbenchError(f"{loaded.path}, key 'executor.{exc.key}': {exc}") from None


def run_suite(
    path: str | Path,
    *,
    db: str | Path | None = None,
    rerun: bool = False,
    executor: str | None = None,
    workers: int | None = None,
    options: dict[str, Any] | None = None,
    sink: Callable[[Any], None] | None = None,
    reuse_stale: bool = False,
    save_artifacts: bool = False,
) -> Summary:
    """Run every cell of the suite at ``path`` that the store does not hold yet.

    ``options`` override the suite's executor settings; ``sink`` receives every event (nothing is
    printed without one). Stored runs computed by different code are run again unless
    ``reuse_stale`` (see :mod:`harbench.staleness`). ``save_artifacts`` keeps every artefact
    of the runs executed now (see ``harbench.artifacts``); the suite's ``defaults.artifacts``
    block asks for some.
    """
    from harbench import staleness

    emit = sink or ev.discard
    started = time.perf_counter()
    loaded = suite.load(path)
    specs = loaded.expand()
    engine, settings = executor_settings(loaded, executor, workers, options)
    n_workers = int(settings.get("workers", 1))
    if loaded.skip_missing_datasets:
        specs = _drop_missing_datasets(specs, emit)
        if not specs:
            return Summary(loaded.name, 0, 0)
    preflight.check(specs)  # every raw file a run or a pretraining stage reads, before any run
    with suite_lock(default_db(db), loaded.name), Store(db) as store:  # lock first: no write
        spill.ingest(store)  # results an earlier suite could not write (the store was locked)
        specs, untunable = _tune(loaded, specs, store, engine, n_workers, emit, settings)
        store.link_suite(loaded.name, [s.run_id for s in specs] + [s.run_id for s, _ in untunable],
                         yaml_text=Path(path).read_text(), path=str(path))
        done = set() if rerun else store.finished_ids(s.run_id for s in specs)
        done, stale = staleness.settle(store, specs, done, reuse=reuse_stale, emit=emit)
        pending = [s for s in specs if s.run_id not in done]
        summary = Summary(loaded.name, len(specs), len(specs) - len(pending), db=str(store.path),
                          stale=len(stale))
        work = plan(pending)
        summary.stages = len(work.stages)
        emit(ev.SuiteStarted(loaded.name, len(specs), len(pending), summary.skipped,
                             len(work.stages), engine.name, n_workers, str(store.path)))
        for spec, why in untunable:  # a tuned run whose study has no completed trial
            _run_done(spec, HarbenchError(why), store, summary, len(pending), emit)
        keep = artifacts.combine(loaded.artifacts, save_artifacts)
        if work.phases:  # nothing to run: no worker or cluster is started
            with artifacts.requested(keep, store.path), \
                    _session(engine, n_workers, emit, settings) as running:
                for phase in work.phases:
                    _run_phase(running, phase, store, summary, len(pending), emit)
        summary.pending = spill.settle(store)
    emit(ev.SuiteFinished(loaded.name, summary.ok, summary.failed, summary.skipped,
                          time.perf_counter() - started))
    return summary


def _tune(loaded: suite.Suite, specs: list[suite.RunSpec], store: Store, engine: Any,
          workers: int, emit: Callable[[Any], None], settings: dict[str, Any]
          ) -> tuple[list[suite.RunSpec], list[tuple[suite.RunSpec, str]]]:
    """The tuning phase (:mod:`harbench.tuning.phase`): the runs with their chosen
    configurations, and the tuned runs that cannot run. Untuned suites pass through."""
    if not any(loaded.tuning_of.values()):
        return specs, []
    from harbench.tuning import phase, studies
    from harbench.tuning.summary import params_text

    def on_trial(result: Any, study: Any) -> None:
        emit(ev.TrialFinished(study.label, study.key, result.number, study.tuning.trials,
                              result.state, result.value, params_text(result.params),
                              result.seconds, result.error))

    assignment = studies.plan(specs, loaded.tuning_of)
    outcome = phase.tune(specs, assignment, store,
                         lambda: _session(engine, workers, emit, settings), on_trial)
    return outcome.specs, outcome.unusable


def _session(engine: Any, workers: int, emit: Callable[[Any], None],
             settings: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
    """The engine's session for one suite (``Executor.session``; also for a duck-typed engine
    that defines ``map`` alone)."""
    opener = getattr(engine, "session", None) or functools.partial(Executor.session, engine)
    return opener(workers=workers, events=emit, settings=settings)


def _run_phase(running: Any, phase: list[Any], store: Store, summary: Summary, pending: int,
               emit: Callable[[Any], None]) -> None:
    """Map one phase of the plan through the session, reporting (and storing) each item."""
    with contextlib.closing(running.map(execute, phase)) as results:
        for item, finished in results:
            if isinstance(item, Stage):
                _stage_done(item, finished, emit)
            else:
                _run_done(item, finished, store, summary, pending, emit)


def _stage_done(stage: Stage, finished: Any, emit: Callable[[Any], None]) -> None:
    if isinstance(finished, BaseException):
        outcome, seconds = StageOutcome(stage.key, "failed", f"{finished}"), 0.0
    else:
        outcome, seconds = finished.outcome, finished.seconds
    emit(ev.StageFinished(stage.key, stage.label, outcome.status, seconds, outcome.error))


def _run_done(spec: suite.RunSpec, finished: Any, store: Store, summary: Summary, pending: int,
              emit: Callable[[Any], None]) -> None:
    """Store one run's result (the only write of the suite) and report it."""
    from harbench import runner

    if isinstance(finished, BaseException):
        result = runner.failed_result(spec, f"{type(finished).__name__}: {finished}")
        seconds = 0.0
    else:
        result, seconds = finished.outcome, finished.seconds
    labels = {"model": spec.model_label, "method": spec.method_label}
    spill.write_or_keep(store, result, labels)  # kept beside the store while a reader holds it
    first_line = result.error.splitlines()[0] if result.error else ""
    if result.status == "ok":
        summary.ok += 1
    else:
        summary.failed += 1
        summary.failures.append((spec.short(), first_line))
    emit(ev.RunFinished(spec.run_id, spec.short(), result.status,
                        result.metrics.get("macro_f1"), seconds, first_line,
                        summary.ok + summary.failed, pending))


def _drop_missing_datasets(
    specs: list[suite.RunSpec], emit: Callable[[Any], None]
) -> list[suite.RunSpec]:
    """Leave out the runs of datasets whose files are not on disk, saying which and why."""
    from harbench.data.load import dataset_root

    present: dict[str, bool] = {}
    for name in dict.fromkeys(s.dataset for s in specs):
        plugin = plugins.get("datasets", name)
        root = dataset_root(plugin)
        present[name] = plugin.embedded or plugin.is_present(root)
        if not present[name]:
            emit(ev.DatasetSkipped(name, f"not present in {root} (harbench data fetch {name}, "
                                         f"or harbench data info {name})"))
    return [s for s in specs if present[s.dataset]]


def dry_run(
    path: str | Path,
    *,
    db: str | Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[suite.Suite, set[str]]:
    """The expanded suite and which of its runs are already stored (nothing is written).

    Every check ``run_suite`` makes before it trains is made here too: the suite, its runs, and
    the executor with its settings (``executor``, ``workers``, ``options`` as for a run).
    """
    loaded = suite.load(path)
    loaded.expand()
    executor_settings(loaded, executor, workers, options)
    stored: set[str] = set()
    db_path = Path(db) if db else None
    try:
        with Store(db_path, read_only=True) as store:
            if any(loaded.tuning_of.values()):  # a tuned run is stored under its chosen config
                from harbench.tuning.phase import as_tuned

                loaded._plan = as_tuned(loaded.specs, loaded.tuning_of, store)
            stored = store.finished_ids(s.run_id for s in loaded.specs)
    except Exception:  # no database yet, or locked by a running suite: nothing known as stored
        stored = set()
    return loaded, stored
