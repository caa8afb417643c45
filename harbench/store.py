"""The DuckDB store: schema, the only writer, and the queries behind every report."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from harbench.contracts import HarbenchError

DEFAULT_DB = Path("results") / "harbench.duckdb"
SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    dataset VARCHAR, model VARCHAR, model_label VARCHAR, method VARCHAR, method_label VARCHAR,
    fold INTEGER, seed INTEGER, protocol VARCHAR,
    config JSON, status VARCHAR, error VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP,  -- UTC
    harbench_version VARCHAR, torch_version VARCHAR, python_version VARCHAR,
    device VARCHAR, host VARCHAR
);
CREATE TABLE IF NOT EXISTS suite_runs (
    suite VARCHAR, run_id VARCHAR, PRIMARY KEY (suite, run_id)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id VARCHAR, name VARCHAR, value DOUBLE, PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS curves (
    run_id VARCHAR, stage VARCHAR, epoch INTEGER, train_loss DOUBLE, val_loss DOUBLE,
    val_f1 DOUBLE, lr DOUBLE, seconds DOUBLE, PRIMARY KEY (run_id, stage, epoch)
);
CREATE TABLE IF NOT EXISTS details (
    run_id VARCHAR PRIMARY KEY, classes JSON, per_class_f1 JSON, confusion JSON, extra JSON
);
"""

RUN_TABLES = ("metrics", "curves", "details", "runs")


def default_db(db: str | Path | None = None) -> Path:
    """``db``, else ``HARBENCH_DB``, else results/harbench.duckdb."""
    if db is not None:
        return Path(db)
    env = os.environ.get("HARBENCH_DB")
    return Path(env) if env else DEFAULT_DB


class Store:
    """A DuckDB results file. Open one writer per file (the coordinator)."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False):
        self.path = default_db(path)
        if read_only and not self.path.exists():
            raise HarbenchError(f"no results database at {self.path} (run a suite first, or --db)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise HarbenchError(f"cannot open results database {self.path}: {exc}") from None
        if not read_only:
            self.con.execute(SCHEMA)
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
            )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- writing --------------------------------------------------------------------------

    def finished_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Which of ``run_ids`` are stored with status ok."""
        ids = list(run_ids)
        if not ids:
            return set()
        rows = self.con.execute(
            "SELECT run_id FROM runs WHERE status = 'ok' AND run_id IN (SELECT unnest(?))", [ids]
        ).fetchall()
        return {r[0] for r in rows}

    def link_suite(self, suite: str, run_ids: Iterable[str]) -> None:
        """Record that ``suite`` now asks for exactly these runs (for ``leaderboard --suite``).

        Runs an earlier version of the suite asked for stay stored but leave its view.
        """
        ids = list(run_ids)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("DELETE FROM suite_runs WHERE suite = ?", [suite])
            if ids:
                self.con.execute("INSERT INTO suite_runs SELECT ?, unnest(?)", [suite, ids])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def write(self, result: Any, *, labels: dict[str, str] | None = None) -> None:
        """Store one RunResult in one transaction, replacing an earlier attempt at the same run."""
        spec = result.spec
        labels = labels or {}
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table in RUN_TABLES:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [result.run_id])
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    result.run_id,
                    spec["dataset"],
                    spec["model"],
                    labels.get("model", spec["model"]),
                    spec["method"],
                    labels.get("method", spec["method"]),
                    spec["fold"],
                    spec["seed"],
                    spec["protocol"].get("scheme") or spec["protocol"].get("name", ""),
                    json.dumps(spec, default=str),
                    result.status,
                    result.error,
                    result.started_at or None,
                    result.finished_at or None,
                    result.env.get("harbench"),
                    result.env.get("torch"),
                    result.env.get("python"),
                    result.env.get("device"),
                    result.env.get("host"),
                ],
            )
            if result.metrics:
                con.executemany(
                    "INSERT INTO metrics VALUES (?, ?, ?)",
                    [[result.run_id, k, float(v)] for k, v in result.metrics.items()],
                )
            if result.curves:
                con.executemany(
                    "INSERT INTO curves VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        [
                            result.run_id,
                            row.get("stage", "train"),
                            int(row["epoch"]),
                            row.get("train_loss"),
                            row.get("val_loss"),
                            row.get("val_f1"),
                            row.get("lr"),
                            row.get("seconds"),
                        ]
                        for row in result.curves
                    ],
                )
            if result.details:
                d = result.details
                extra = {
                    k: v for k, v in d.items() if k not in ("classes", "per_class_f1", "confusion")
                }
                con.execute(
                    "INSERT INTO details VALUES (?, ?, ?, ?, ?)",
                    [
                        result.run_id,
                        json.dumps(d.get("classes")),
                        json.dumps(d.get("per_class_f1")),
                        json.dumps(d.get("confusion")),
                        json.dumps(extra, default=str),
                    ],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # ---- reading ---------------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run ``sql``; returns (column names, rows)."""
        try:
            cursor = self.con.execute(sql, params or [])
        except duckdb.Error as exc:
            raise HarbenchError(f"query failed: {exc}") from None
        columns = [d[0] for d in cursor.description] if cursor.description else []
        return columns, cursor.fetchall()
