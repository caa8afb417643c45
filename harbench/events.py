"""What happens during a suite, as plain data: the coordinator emits these, front ends render them.

An event sink is any callable taking one event. Workers publish their events (run started, epoch
ended) through the executor back to the coordinator, which passes them on to the sink with its own
(suite started, run finished). Events are dataclasses of plain values, so they pickle, and
``to_dict``/``from_dict`` turn them into JSON-able dicts for executors that ship them as files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class SuiteStarted:
    suite: str
    total: int  # runs in the suite
    pending: int  # runs to execute now
    skipped: int  # runs already stored
    stages: int  # distinct pretraining stages to ensure before the runs that need them
    executor: str
    workers: int
    db: str


@dataclass(frozen=True)
class DatasetSkipped:
    dataset: str
    reason: str


@dataclass(frozen=True)
class StaleRuns:
    """Stored runs computed by different code (see :mod:`harbench.staleness`)."""

    stale: int
    unknown: int  # of them, stored before harbench recorded the code
    reused: bool  # kept as stored (--reuse-stale) rather than recomputed
    message: str


@dataclass(frozen=True)
class TrialFinished:
    """A tuning trial came back and was stored (see :mod:`harbench.tuning`)."""

    label: str  # the method tuned, e.g. "lora(r=4)"
    study: str
    number: int
    trials: int  # the study's budget
    state: str  # "completed", "pruned" or "failed"
    value: float | None
    params: str  # the trial's parameters as short text
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class StageStarted:
    key: str
    label: str  # e.g. "mae pretraining on hapt_embedded"
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class StageFinished:
    key: str
    label: str
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    label: str
    epochs: int  # the most epochs the run may take (early stopping can end it sooner)
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class EpochEnded:
    run_id: str
    epoch: int
    train_loss: float
    val_f1: float
    seconds: float  # cumulative training seconds of the run so far


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    label: str
    status: str  # "ok" or "failed"
    macro_f1: float | None
    seconds: float  # the run's own time, measured where it ran
    error: str = ""
    done: int = 0  # runs finished so far in this suite, this one included
    pending: int = 0  # runs this suite executes


@dataclass(frozen=True)
class SuiteFinished:
    suite: str
    ok: int
    failed: int
    skipped: int
    seconds: float


Event = (
    SuiteStarted | DatasetSkipped | StaleRuns | StageStarted | StageFinished | RunStarted
    | EpochEnded | RunFinished | SuiteFinished
)
EventSink = Callable[[Any], None]

KINDS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        SuiteStarted,
        DatasetSkipped,
        StaleRuns,
        StageStarted,
        StageFinished,
        RunStarted,
        EpochEnded,
        RunFinished,
        SuiteFinished,
    )
}


def to_dict(event: Any) -> dict[str, Any]:
    """A JSON-able dict of an event, tagged with its kind."""
    return {"kind": type(event).__name__, **asdict(event)}


def from_dict(data: dict[str, Any]) -> Any:
    """The event that ``to_dict`` described; unknown kinds or fields raise ValueError."""
    kind = KINDS.get(str(data.get("kind")))
    if kind is None:
        raise ValueError(f"unknown event kind {data.get('kind')!r}")
    names = {f.name for f in fields(kind)}
    values = {k: v for k, v in data.items() if k != "kind"}
    if not set(values) <= names:
        raise ValueError(f"{kind.__name__} has no fields {sorted(set(values) - names)}")
    return kind(**values)


def discard(_event: Any) -> None:
    """The sink that drops everything (the Python API's default: it prints nothing)."""
