"""The ``trials`` table: every trial of every study, written by the coordinator alone.

One row per (study, number): the parameters, the state (completed, pruned, failed), the score,
the validation curve, the seconds and MACs it cost, the subjects it saw. A study is rebuilt from
its rows, so a killed suite continues where it stopped: a trial stored is never run again, one
in flight when the coordinator died is run again under the same number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from harbench.store import Store


@dataclass
class TrialRecord:
    """A stored trial."""

    study: str
    number: int
    params: dict[str, Any]
    state: str
    value: float | None
    curve: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    macs: float = 0.0
    subjects: list[int] = field(default_factory=list)
    method_label: str = ""


def write(store: Store, result: Any, study: Any) -> None:
    """Store one finished trial (``TrialResult``) of ``study`` in one transaction."""
    base = study.bases[0]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with store._transaction() as con:
        con.execute(
            "INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [result.study, result.number, base.dataset, base.model_label, base.method,
             study.label, json.dumps(result.params, sort_keys=True), result.state, result.value,
             json.dumps(result.curve), result.seconds, result.macs, json.dumps(result.subjects),
             result.error, json.dumps(study.tuning.settings(), sort_keys=True), now],
        )


def load(store: Store, studies: Iterable[str]) -> dict[str, list[TrialRecord]]:
    """The stored trials of each of ``studies``, by number."""
    keys = list(studies)
    out: dict[str, list[TrialRecord]] = {k: [] for k in keys}
    if not keys or not has_table(store):
        return out
    _, rows = store.query(
        "SELECT study, number, params, state, value, curve, seconds, macs, subjects, method_label "
        "FROM trials WHERE study IN (SELECT unnest(?)) ORDER BY study, number", [keys])
    for row in rows:
        out[row[0]].append(TrialRecord(row[0], int(row[1]), json.loads(row[2]), row[3], row[4],
                                       json.loads(row[5]), row[6] or 0.0, row[7] or 0.0,
                                       json.loads(row[8]), row[9] or ""))
    return out


def has_table(store: Store) -> bool:
    _, rows = store.query("SELECT count(*) FROM information_schema.tables "
                          "WHERE table_name = 'trials'")
    return bool(rows and rows[0][0])
