"""Stale runs: stored results computed by code that differs from the code here.

Every run stores the code fingerprint of the code that computed it (:mod:`harbench.codeprint`).
A stored ok run is *stale* when that fingerprint differs from the current code's for its spec, or
when it has none (stored before harbench recorded fingerprints: counted as stale, of unknown
code, since nothing shows it was computed by this code). ``harbench run`` recomputes stale runs
and keeps each replaced result in the ``run_history`` table; ``--reuse-stale`` keeps them as they
are. ``harbench validate`` counts them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REUSE_FLAG = "--reuse-stale"


@dataclass(frozen=True)
class Staleness:
    """Which stored runs were computed by different code (``unknown``: by code never recorded;
    those are in ``stale`` too)."""

    stale: frozenset[str] = field(default_factory=frozenset)
    unknown: frozenset[str] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.stale)

    def counted(self) -> str:
        """``N stored run(s) ... computed by different code (M of unknown code)``."""
        n = len(self.stale)
        text = f"{n} stored run{'s' if n != 1 else ''} {'were' if n != 1 else 'was'} computed " \
               f"by different code"
        if self.unknown:
            text += f" ({len(self.unknown)} stored before harbench recorded the code: unknown)"
        return text

    def message(self, *, reused: bool | None) -> str:
        """What a front end says: ``reused`` None (validate), True or False (run)."""
        if reused is None:
            return f"{self.counted()}: harbench run recomputes them ({REUSE_FLAG} keeps them)"
        if reused:
            return f"{self.counted()}: kept as stored ({REUSE_FLAG})"
        return (f"{self.counted()}: recomputing them (their old results stay in the store's "
                f"run_history table; {REUSE_FLAG} keeps them instead)")


def check(store: Any, specs: Iterable[Any], stored: Iterable[str]) -> Staleness:
    """The runs of ``specs`` among ``stored`` (ok run ids) whose code fingerprint differs."""
    from harbench import codeprint

    wanted = {s.run_id: s for s in specs}
    ids = [r for r in stored if r in wanted]
    if not ids:
        return Staleness()
    recorded = store.code_fingerprints(ids)
    stale, unknown = set(), set()
    for run_id in ids:
        fingerprint = recorded.get(run_id)
        if not fingerprint:
            unknown.add(run_id)
            stale.add(run_id)
        elif fingerprint != codeprint.for_spec(wanted[run_id]):
            stale.add(run_id)
    return Staleness(frozenset(stale), frozenset(unknown))


def settle(store: Any, specs: list[Any], done: set[str], *, reuse: bool,
           emit: Any = None) -> tuple[set[str], Staleness]:
    """``done`` less the stale runs unless ``reuse`` (their rows archived first: they are about
    to be replaced), and the staleness found; an event tells ``emit`` when there is any."""
    from harbench import events as ev

    found = check(store, specs, done)
    if not found:
        return done, found
    if not reuse:
        store.archive(sorted(found.stale))
        done = done - found.stale
    if emit is not None:
        emit(ev.StaleRuns(len(found.stale), len(found.unknown), reuse,
                          found.message(reused=reuse)))
    return done, found


def of_stored(db: Any, specs: list[Any], stored: set[str]) -> Staleness:
    """The staleness of a suite's stored runs, read without writing (``validate``, dry runs);
    nothing known (no database, or it cannot be read now) is no staleness."""
    from harbench.store import Store

    if not stored:
        return Staleness()
    try:
        with Store(db, read_only=True) as store:
            return check(store, specs, stored)
    except Exception:  # a store that cannot be opened already showed no run as stored
        return Staleness()
