"""A compact, re-checkable export of the runs behind a report: one parquet file per store table.

``write`` copies the rows of the chosen suites (their runs, failed ones included, with metrics,
curves, details, the suites' YAML and the tuning trials of their studies) into a folder of parquet
files plus ``manifest.json`` (what was exported, when, by which harbench commit, each file's
sha256 and row count, and the code fingerprints of the runs). ``load`` rebuilds a DuckDB store
from such a folder, after checking every checksum, so ``harbench report repro --from FOLDER``
recomputes the reproduction rows without re-running anything. Parquet holds data only: loading
executes nothing from the folder.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from harbench.contracts import HarbenchError
from harbench.store import Store

MANIFEST = "manifest.json"
FORMAT = "harbench-snapshot/1"
# table -> the rows of it that belong to the exported runs (``picked``: their run ids)
TABLES = {
    "runs": "SELECT * FROM runs WHERE run_id IN (SELECT run_id FROM picked)",
    "metrics": "SELECT * FROM metrics WHERE run_id IN (SELECT run_id FROM picked)",
    "curves": "SELECT * FROM curves WHERE run_id IN (SELECT run_id FROM picked)",
    "details": "SELECT * FROM details WHERE run_id IN (SELECT run_id FROM picked)",
    "suite_runs": "SELECT * FROM suite_runs WHERE suite IN (SELECT unnest($suites))",
    "suites": "SELECT * FROM suites WHERE suite IN (SELECT unnest($suites))",
    "trials": ("SELECT * FROM trials WHERE study IN (SELECT json_extract_string(config, "
               "'$.tuning.study') FROM runs WHERE run_id IN (SELECT run_id FROM picked))"),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_commit(cwd: Path | None = None) -> str | None:
    """The harbench checkout's commit (with ``+dirty`` when files differ), None outside git."""
    here = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty.strip() else "")


def write(store: Store, suites: list[str], folder: Path) -> dict:
    """Export ``suites`` (every run linked to them) into ``folder``; returns the manifest."""
    if not suites:
        raise HarbenchError("snapshot: name at least one suite (--suite)")
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict] = {}
    with store._connection() as con:
        known = {r[0] for r in con.execute("SELECT suite FROM suites").fetchall()}
        missing = [s for s in suites if s not in known]
        if missing:
            raise HarbenchError(f"snapshot: no suite {', '.join(map(repr, missing))} in "
                                f"{store.path} (stored: {', '.join(sorted(known)) or 'none'})")
        con.execute("CREATE OR REPLACE TEMP TABLE picked AS SELECT DISTINCT run_id FROM "
                    "suite_runs WHERE suite IN (SELECT unnest($suites))", {"suites": suites})
        for table, select in TABLES.items():
            path = folder / f"{table}.parquet"
            params = {"suites": suites} if "$suites" in select else None
            rows = con.execute(f"SELECT count(*) FROM ({select})", params).fetchone()[0]
            con.execute(f"COPY ({select}) TO '{_literal(path)}' "
                        "(FORMAT parquet, COMPRESSION zstd)", params)
            files[table] = {"file": path.name, "rows": rows, "sha256": _sha256(path)}
        prints = con.execute("SELECT code_fingerprint, count(*) FROM runs WHERE run_id IN "
                             "(SELECT run_id FROM picked) GROUP BY 1 ORDER BY 1").fetchall()
        configs = con.execute("SELECT config, code_fingerprint FROM runs WHERE run_id IN "
                              "(SELECT run_id FROM picked)").fetchall()
        con.execute("DROP TABLE picked")
    same = sum(1 for config, fp in configs if fp and fp == _current_fingerprint(config))
    manifest = {
        "format": FORMAT,
        "suites": sorted(suites),
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exported_by_commit": source_commit(),
        "code_fingerprints": {str(fp): n for fp, n in prints},
        # runs whose fingerprint is that of the exporting checkout's code: computed by code
        # that means the same as ``exported_by_commit`` (harbench.codeprint)
        "runs_computed_by_this_code": same,
        "tables": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _current_fingerprint(config: str | None) -> str:
    from harbench import codeprint

    try:
        spec = json.loads(config) if config else {}
    except json.JSONDecodeError:
        return ""
    return codeprint.for_spec_or_empty(spec) if isinstance(spec, dict) else ""


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def read_manifest(folder: Path) -> dict:
    """The folder's manifest, checked for format and for every file's presence and sha256."""
    where = folder / MANIFEST
    try:
        manifest = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarbenchError(f"{where}: no snapshot manifest (write one with "
                            "`harbench export --format snapshot`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarbenchError(f"{where}: unreadable snapshot manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise HarbenchError(f"{where}: not a {FORMAT} manifest")
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or set(tables) != set(TABLES):
        raise HarbenchError(f"{where}: expected the tables {', '.join(TABLES)}")
    for table, entry in tables.items():
        name = entry.get("file") if isinstance(entry, dict) else None
        if name != f"{table}.parquet":
            raise HarbenchError(f"{where}: table {table!r} must be in {table}.parquet")
        path = folder / name
        if not path.is_file():
            raise HarbenchError(f"{path}: missing (listed in {where})")
        if _sha256(path) != entry.get("sha256"):
            raise HarbenchError(f"{path}: sha256 does not match {where} (changed or damaged)")
    return manifest


def load(folder: Path, db: Path) -> Store:
    """A new store at ``db`` holding the snapshot in ``folder`` (checked first); the caller
    closes it. ``db`` must not exist yet."""
    manifest = read_manifest(folder)
    if db.exists():
        raise HarbenchError(f"{db}: exists; a snapshot loads into a new store")
    store = Store(db)
    with store._connection() as con:
        for table in manifest["tables"]:
            path = folder / f"{table}.parquet"
            columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            try:
                con.execute(f"INSERT INTO {table} SELECT {', '.join(columns)} FROM "
                            f"read_parquet('{_literal(path)}')")
            except Exception as exc:  # duckdb raises its own error types
                raise HarbenchError(f"{path}: cannot be loaded as table {table} ({exc})") from None
    return store
