"""Read stored runs (spec, labels, metrics) out of the store as plain records."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from harbench.store import Store


@dataclass
class Run:
    """One stored run: its identity, labels, canonical spec and metrics."""

    run_id: str
    dataset: str
    model: str
    model_label: str
    method: str
    method_label: str
    protocol: str
    fold: int
    seed: int
    status: str
    device: str
    config: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)

    def flat_config(self) -> dict[str, Any]:
        """The canonical spec as ``{"dotted.key": scalar}``."""
        return flatten(self.config)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> ``{"a.b": leaf}``; lists become their JSON text, None stays None."""
    if isinstance(value, dict):
        if not value and prefix:
            return {prefix: "{}"}
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        return {prefix: json.dumps(value, sort_keys=True)}
    return {prefix: value}


def suite_filter(suite: str | None, alias: str = "r") -> tuple[str, list[Any]]:
    """SQL fragment (AND ...) keeping the runs that ``suite`` asks for."""
    if not suite:
        return "", []
    return f" AND {alias}.run_id IN (SELECT run_id FROM suite_runs WHERE suite = ?)", [suite]


def load_runs(store: Store, suite: str | None = None, *, status: str = "ok") -> list[Run]:
    """Every stored run with ``status`` (of ``suite`` when given) with its metrics."""
    where, params = suite_filter(suite)
    _, rows = store.query(
        "SELECT r.run_id, r.dataset, r.model, r.model_label, r.method, r.method_label, r.protocol,"
        " r.fold, r.seed, r.status, r.device, r.config FROM runs r"
        f" WHERE r.status = ? {where} ORDER BY r.dataset, r.run_id",
        [status, *params],
    )
    runs = {}
    for row in rows:
        config = json.loads(row[11]) if row[11] else {}
        runs[row[0]] = Run(*row[:11], config=config if isinstance(config, dict) else {})
    if runs:
        _, metric_rows = store.query(
            "SELECT run_id, name, value FROM metrics WHERE run_id IN (SELECT unnest(?))",
            [list(runs)],
        )
        for run_id, name, value in metric_rows:
            if value is not None and not math.isnan(value):
                runs[run_id].metrics[name] = value
    return list(runs.values())


def load_curves(
    store: Store, run_ids: list[str], stage: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Per-epoch curve rows per run id, in epoch order (one stage, or all with their stage)."""
    if not run_ids:
        return {}
    counts = ", steps, samples" if has_column(store, "curves", "steps") else ""
    sql = (
        f"SELECT run_id, stage, epoch, train_loss, val_loss, val_f1, lr, seconds{counts}"
        " FROM curves WHERE run_id IN (SELECT unnest(?))"
    )
    params: list[Any] = [list(run_ids)]
    if stage:
        sql += " AND stage = ?"
        params.append(stage)
    columns, rows = store.query(sql + " ORDER BY run_id, stage, epoch", params)
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(dict(zip(columns[1:], row[1:])))
    return out


def load_details(store: Store, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Classes, per-class F1 and confusion matrix per run id."""
    if not run_ids:
        return {}
    _, rows = store.query(
        "SELECT run_id, classes, per_class_f1, confusion FROM details"
        " WHERE run_id IN (SELECT unnest(?))",
        [list(run_ids)],
    )
    return {
        r[0]: {
            "classes": json.loads(r[1]) if r[1] else None,
            "per_class_f1": json.loads(r[2]) if r[2] else None,
            "confusion": json.loads(r[3]) if r[3] else None,
        }
        for r in rows
    }


def has_table(store: Store, name: str) -> bool:
    """Whether the store has table ``name`` (older stores lack newer tables)."""
    _, rows = store.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    )
    return rows[0][0] > 0


def has_column(store: Store, table: str, column: str) -> bool:
    """Whether ``table`` has ``column`` (older stores lack newer columns)."""
    _, rows = store.query(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
        [table, column],
    )
    return rows[0][0] > 0
