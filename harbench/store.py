"""The DuckDB store: schema, the only writer, and the queries behind every report.

The writer (the coordinator) opens the file only for each short write transaction and closes it in
between, so ``leaderboard``, ``query``, ``export`` and ``validate`` can read the file while a suite
runs. Whoever finds the file locked by another process waits and retries (readers up to
``HARBENCH_DB_WAIT`` seconds, default 60; the writer five times as long), never failing at once;
a result the writer still cannot write is kept beside the store (:mod:`harbench.spill`).
``harbench query`` connections have a statement timeout and a memory limit
(``HARBENCH_QUERY_TIMEOUT``, ``HARBENCH_QUERY_MEMORY``). A writer refuses a damaged file before
writing to it (:func:`check_sound`).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError
from harbench.finite import non_finite

if TYPE_CHECKING:  # duckdb is imported on first use, so CLI commands that never open it start fast
    import duckdb

DEFAULT_DB = Path("results") / "harbench.duckdb"
SCHEMA_VERSION = "2"
WAIT_ENV = "HARBENCH_DB_WAIT"
QUERY_TIMEOUT_ENV = "HARBENCH_QUERY_TIMEOUT"  # seconds a `harbench query` statement may run
QUERY_MEMORY_ENV = "HARBENCH_QUERY_MEMORY"  # DuckDB memory_limit of a `harbench query` connection
QUERY_TIMEOUT_S = 30.0
QUERY_MEMORY = "1GB"

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
ALTER TABLE runs ADD COLUMN IF NOT EXISTS plugins JSON;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS code_fingerprint VARCHAR;  -- NULL: stored before it was
CREATE TABLE IF NOT EXISTS run_history (  -- results replaced because their code changed
    run_id VARCHAR, superseded_at TIMESTAMP, code_fingerprint VARCHAR, run JSON, metrics JSON
);
CREATE TABLE IF NOT EXISTS suite_runs (
    suite VARCHAR, run_id VARCHAR, PRIMARY KEY (suite, run_id)
);
CREATE TABLE IF NOT EXISTS suites (
    suite VARCHAR PRIMARY KEY, path VARCHAR, yaml VARCHAR, updated_at TIMESTAMP  -- UTC
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id VARCHAR, name VARCHAR, value DOUBLE, PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS curves (
    run_id VARCHAR, stage VARCHAR, epoch INTEGER, train_loss DOUBLE, val_loss DOUBLE,
    val_f1 DOUBLE, lr DOUBLE, seconds DOUBLE, PRIMARY KEY (run_id, stage, epoch)
);
ALTER TABLE curves ADD COLUMN IF NOT EXISTS steps DOUBLE;  -- optimiser steps of the epoch
ALTER TABLE curves ADD COLUMN IF NOT EXISTS samples DOUBLE;  -- windows seen in the epoch
CREATE TABLE IF NOT EXISTS details (
    run_id VARCHAR PRIMARY KEY, classes JSON, per_class_f1 JSON, confusion JSON, extra JSON
);
CREATE TABLE IF NOT EXISTS trials (  -- tuning trials (harbench.tuning.storage)
    study VARCHAR, number INTEGER, dataset VARCHAR, model VARCHAR, method VARCHAR,
    method_label VARCHAR, params JSON, state VARCHAR, value DOUBLE, curve JSON, seconds DOUBLE,
    macs DOUBLE, subjects JSON, error VARCHAR, settings JSON, finished_at TIMESTAMP,  -- UTC
    PRIMARY KEY (study, number)
);
"""

RUN_TABLES = ("metrics", "curves", "details", "runs")
RUN_COLUMNS = (
    "run_id", "dataset", "model", "model_label", "method", "method_label", "fold", "seed",
    "protocol", "config", "status", "error", "started_at", "finished_at", "harbench_version",
    "torch_version", "python_version", "device", "host", "plugins", "code_fingerprint",
)  # fmt: skip

# A connection for user SQL: it reads the store and nothing else (no files, no extensions,
# no ATTACH, no settings changed afterwards).
SANDBOX = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


def default_db(db: str | Path | None = None) -> Path:
    """``db``, else ``HARBENCH_DB``, else results/harbench.duckdb."""
    if db is not None:
        return Path(db)
    env = os.environ.get("HARBENCH_DB")
    return Path(env) if env else DEFAULT_DB


def reader_wait_s() -> float:
    """How long a reader waits for a locked file: ``HARBENCH_DB_WAIT`` seconds, default 60."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, "60")))
    except ValueError:
        raise HarbenchError(f"{WAIT_ENV} must be a number of seconds") from None


def query_timeout_s() -> float:
    """How long one ``harbench query`` statement may run: ``HARBENCH_QUERY_TIMEOUT`` seconds,
    default 30 (well inside a writer's wait, so a query never costs a running suite a result)."""
    try:
        value = float(os.environ.get(QUERY_TIMEOUT_ENV, QUERY_TIMEOUT_S))
    except ValueError:
        value = -1.0
    if not value > 0:
        raise HarbenchError(f"{QUERY_TIMEOUT_ENV} must be a positive number of seconds")
    return value


def query_memory() -> str:
    """DuckDB's ``memory_limit`` for ``harbench query``: ``HARBENCH_QUERY_MEMORY``, default 1GB."""
    value = os.environ.get(QUERY_MEMORY_ENV, QUERY_MEMORY).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise HarbenchError(
            f"{QUERY_MEMORY_ENV} must be a size such as 512MB or 2GB, got {value!r}"
        )
    return value


class StoreLockedError(HarbenchError):
    """The store stayed locked by another process for longer than the wait."""


def _is_lock_error(exc: Exception) -> bool:
    import duckdb

    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(
    path: Path, *, read_only: bool, wait_s: float, config: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Open ``path``; while another process holds its lock, retry for up to ``wait_s`` seconds."""
    import duckdb

    deadline = time.monotonic() + wait_s
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise HarbenchError(f"cannot open results database {path}: {exc}") from None
            if time.monotonic() >= deadline:
                raise StoreLockedError(
                    f"results database {path} is still locked by another process after "
                    f"{wait_s:g} s (set {WAIT_ENV} to wait longer): {exc}"
                ) from None
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 1.5, 0.25)


def check_sound(path: Path, wait_s: float) -> None:
    """Refuse a damaged store before anything writes to it: the file is opened read-only (DuckDB's
    own checks) and every table read in full (about 0.1 s for a store of 10,000 runs:
    ``benchmarks/store_check.py``); any failure is a HarbenchError and the file is left as it
    was, byte for byte. A missing or empty file is a new store."""
    import duckdb

    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        con = connect(path, read_only=True, wait_s=wait_s)
    except StoreLockedError:
        raise
    except HarbenchError as exc:
        raise HarbenchError(
            f"results database {path} is damaged or not a harbench store, and was left "
            f"untouched: {str(exc).split(': ', 1)[-1]}. Move it aside (or use --db) to start "
            "a new store."
        ) from None
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()]
        for table in tables:  # a hash of every row reads every block of every column
            con.execute(f'SELECT bit_xor(hash(t)) FROM "{table}" AS t').fetchall()
    except duckdb.Error as exc:
        raise HarbenchError(
            f"results database {path} is damaged (reading its tables failed) and was left "
            f"untouched: {exc}. Move it aside (or use --db) to start a new store."
        ) from None
    finally:
        con.close()


class Store:
    """A DuckDB results file.

    ``Store(path)`` is the writer (one per file: the coordinator); it holds the file only during
    each call. ``Store(path, read_only=True)`` is a reader that holds a read-only connection until
    closed; ``sandbox=True`` makes it a connection for untrusted SQL (``harbench query``): it can
    read this store and nothing else.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        read_only: bool = False,
        sandbox: bool = False,
        wait_s: float | None = None,
    ):
        self.path = default_db(path)
        self.read_only = read_only or sandbox
        self.wait_s = reader_wait_s() if wait_s is None else wait_s
        self.con: duckdb.DuckDBPyConnection | None = None
        self.timeout_s: float | None = None  # statement time limit (sandbox connections)
        if self.read_only:
            if not self.path.exists():
                raise HarbenchError(
                    f"no results database at {self.path} (run a suite first, or --db)"
                )
            config = {**SANDBOX, "memory_limit": query_memory()} if sandbox else None
            self.timeout_s = query_timeout_s() if sandbox else None
            self.con = connect(self.path, read_only=True, wait_s=self.wait_s, config=config)
            return
        self.wait_s = self.wait_s * 5 if wait_s is None else wait_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_sound(self.path, self.wait_s)
        with self._connection() as con:
            con.execute(SCHEMA)
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
            )

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The reader's open connection, or a writer's connection for the span of one call."""
        if self.con is not None:
            yield self.con
            return
        if self.read_only:
            raise HarbenchError(f"results database {self.path} is closed")
        con = connect(self.path, read_only=False, wait_s=self.wait_s)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.read_only:
            raise HarbenchError(f"results database {self.path} was opened read-only")
        with self._connection() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # ---- writing --------------------------------------------------------------------------

    def finished_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Which of ``run_ids`` are stored with status ok."""
        ids = list(run_ids)
        if not ids:
            return set()
        _, rows = self.query(
            "SELECT run_id FROM runs WHERE status = 'ok' AND run_id IN (SELECT unnest(?))", [ids]
        )
        return {r[0] for r in rows}

    def link_suite(
        self,
        suite: str,
        run_ids: Iterable[str],
        *,
        yaml_text: str | None = None,
        path: str | Path | None = None,
    ) -> None:
        """Record that ``suite`` now asks for exactly these runs (for ``leaderboard --suite``),
        and, when given, the suite file's text and path (for reports).

        Runs an earlier version of the suite asked for stay stored but leave its view.
        """
        ids = list(run_ids)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with self._transaction() as con:
            con.execute("DELETE FROM suite_runs WHERE suite = ?", [suite])
            if ids:
                con.execute("INSERT INTO suite_runs SELECT ?, unnest(?)", [suite, ids])
            old = con.execute("SELECT path, yaml FROM suites WHERE suite = ?", [suite]).fetchone()
            old_path, old_yaml = old if old else (None, None)
            con.execute(
                "INSERT OR REPLACE INTO suites VALUES (?, ?, ?, ?)",
                [
                    suite,
                    str(path) if path is not None else old_path,
                    yaml_text if yaml_text is not None else old_yaml,
                    now,
                ],
            )

    def write(self, result: Any, *, labels: dict[str, str] | None = None) -> None:
        """Store one RunResult in one transaction, replacing an earlier attempt at the same run.

        The run's ``plugins`` column records which distribution (and version) provided each
        plugin it used, and each plugin's own version.
        """
        spec = result.spec
        labels = labels or {}
        protocol = spec.get("protocol") or {}
        status, error = result.status, result.error
        bad = non_finite(result.metrics or {})
        if status == "ok" and bad:  # the last guard: nothing that is not finite is stored as ok
            status, error = "failed", f"NonFiniteError: metrics not finite: {', '.join(bad)}"
        row = [
            result.run_id,
            spec["dataset"],
            spec["model"],
            labels.get("model", spec["model"]),
            spec["method"],
            labels.get("method", spec["method"]),
            spec["fold"],
            spec["seed"],
            protocol.get("scheme") or protocol.get("name", ""),
            json.dumps(spec, default=str),
            status,
            error,
            result.started_at or None,
            result.finished_at or None,
            result.env.get("harbench"),
            result.env.get("torch"),
            result.env.get("python"),
            result.env.get("device"),
            result.env.get("host"),
            json.dumps(_plugins_used(spec)),
            result.env.get("code"),
        ]
        with self._transaction() as con:
            for table in RUN_TABLES:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [result.run_id])
            marks = ", ".join("?" * len(RUN_COLUMNS))
            con.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({marks})", row)
            if result.metrics:  # one statement over lists: much faster than executemany
                names = list(result.metrics)
                values = [float(result.metrics[k]) for k in names]
                con.execute(
                    "INSERT INTO metrics SELECT ?, unnest(?::VARCHAR[]), unnest(?::DOUBLE[])",
                    [result.run_id, names, values],
                )
            if result.curves:
                columns = list(zip(*(_curve_row(r) for r in result.curves)))
                con.execute(
                    "INSERT INTO curves (run_id, stage, epoch, train_loss, val_loss, val_f1, lr, "
                    "seconds, steps, samples) SELECT ?, unnest(?::VARCHAR[]), "
                    "unnest(?::INTEGER[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), "
                    "unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), "
                    "unnest(?::DOUBLE[]), unnest(?::DOUBLE[])",
                    [result.run_id, *(list(c) for c in columns)],
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

    def archive(self, run_ids: Iterable[str]) -> int:
        """Copy these stored runs (their row and metrics, as JSON) into ``run_history`` before
        they are recomputed (a row already copied is not copied twice); returns how many of them
        are stored."""
        ids = list(run_ids)
        if not ids:
            return 0
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with self._transaction() as con:
            con.execute(
                "INSERT INTO run_history SELECT r.run_id, ?, r.code_fingerprint, to_json(r), "
                "(SELECT to_json(map(list(m.name), list(m.value))) FROM metrics m "
                " WHERE m.run_id = r.run_id) FROM runs r WHERE r.run_id IN (SELECT unnest(?)) "
                "AND NOT EXISTS (SELECT 1 FROM run_history h WHERE h.run_id = r.run_id "
                "AND h.run::VARCHAR = to_json(r)::VARCHAR)",  # archived by an interrupted suite
                [now, ids],
            )
            (count,) = con.execute(
                "SELECT count(*) FROM runs WHERE run_id IN (SELECT unnest(?))", [ids]
            ).fetchone()
        return int(count)

    def code_fingerprints(self, run_ids: Iterable[str]) -> dict[str, str | None]:
        """run_id -> the stored code fingerprint (None: stored before fingerprints were)."""
        ids = list(run_ids)
        if not ids:
            return {}
        try:
            _, rows = self.query(
                "SELECT run_id, code_fingerprint FROM runs WHERE run_id IN (SELECT unnest(?))",
                [ids],
            )
        except HarbenchError:  # a store older than the column, opened read-only
            return dict.fromkeys(ids)
        return dict(rows)

    # ---- reading ---------------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run ``sql``; returns (column names, rows)."""
        import duckdb

        with self._connection() as con:
            timer = None
            if self.timeout_s is not None:  # DuckDB has no statement timeout: interrupt it
                timer = threading.Timer(self.timeout_s, con.interrupt)
                timer.daemon = True
                timer.start()
            try:
                cursor = con.execute(sql, params or [])
                columns = [d[0] for d in cursor.description] if cursor.description else []
                rows = cursor.fetchall()
            except duckdb.Error as exc:
                if timer is not None and not timer.is_alive():
                    raise HarbenchError(
                        f"query stopped after {self.timeout_s:g} s ({QUERY_TIMEOUT_ENV} sets the "
                        "limit; a query holds the store, and a running suite waits for it)"
                    ) from None
                raise HarbenchError(f"query failed: {exc}") from None
            finally:
                if timer is not None:
                    timer.cancel()
            return columns, rows

    def suite_yaml(self, suite: str) -> tuple[str | None, str | None]:
        """(path, YAML text) recorded for ``suite`` by ``link_suite``; (None, None) if unknown."""
        _, rows = self.query("SELECT path, yaml FROM suites WHERE suite = ?", [suite])
        return rows[0] if rows else (None, None)


def _curve_row(row: dict[str, Any]) -> tuple[Any, ...]:
    """(stage, epoch, train_loss, val_loss, val_f1, lr, seconds, steps, samples) of one row."""
    numbers = [row.get(k) for k in ("train_loss", "val_loss", "val_f1", "lr", "seconds", "steps",
                                    "samples")]
    return (
        row.get("stage", "train"),
        int(row["epoch"]),
        *(None if v is None else float(v) for v in numbers),
    )


def _plugins_used(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    """kind -> provenance (name, plugin, distribution, its version, the plugin's version)."""
    from harbench import plugins

    protocol = spec.get("protocol") or {}
    wanted = {
        "datasets": spec.get("dataset"),
        "models": spec.get("model"),
        "methods": spec.get("method"),
        "protocols": protocol.get("name"),
        "executors": spec.get("executor"),
    }
    out: dict[str, dict[str, str]] = {}
    for kind, name in wanted.items():
        if isinstance(name, str) and name:
            found = plugins.provenance(kind, name)
            if found is not None:
                out[kind] = found
    return out
