"""Finished results that could not be written yet: kept as JSON files beside the store, written
later, so no wait for the store's lock (a long reader) ever loses a result.

When the coordinator cannot take the store's lock within its wait, the run's result goes to
``<store>.pending/<run_id>.json`` (written to a temporary file and renamed: whole or absent) and
the suite goes on. Every later write of the suite, and the start of every later ``run`` on the
store, first ingests what is pending (and deletes each file once its row is committed). The files
hold plain JSON, never pickles: loading them executes nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harbench.store import Store, StoreLockedError


def pending_dir(db_path: str | Path) -> Path:
    """Where results waiting for ``db_path`` are kept."""
    path = Path(db_path)
    return path.with_name(path.name + ".pending")


def keep(db_path: str | Path, result: Any, labels: dict[str, str]) -> Path:
    """Write ``result`` (a RunResult) and its labels to the pending folder atomically."""
    folder = pending_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"result": asdict(result), "labels": labels}
    text = json.dumps(payload, default=str)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        target = folder / f"{result.run_id}.json"
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def pending(db_path: str | Path) -> list[Path]:
    """The results waiting for ``db_path``, oldest first."""
    folder = pending_dir(db_path)
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))


def _result(data: dict[str, Any]) -> Any:
    from harbench.runner import RunResult

    known = set(RunResult.__dataclass_fields__)
    return RunResult(**{k: v for k, v in data.items() if k in known})


def ingest(store: Store) -> int:
    """Write every pending result into ``store`` (each in its own transaction); returns how many.

    Raises :class:`StoreLockedError` when the store stays locked (what is left stays pending).
    A file that is not a result (damaged) is renamed ``*.bad`` and left for the user.
    """
    written = 0
    for path in pending(store.path):
        try:
            payload = json.loads(path.read_text())
            result, labels = _result(payload["result"]), dict(payload.get("labels") or {})
        except (OSError, ValueError, KeyError, TypeError):
            os.replace(path, path.with_suffix(".bad"))
            continue
        store.write(result, labels=labels)
        path.unlink(missing_ok=True)
        written += 1
    return written


def write_or_keep(store: Store, result: Any, labels: dict[str, str]) -> bool:
    """Write ``result`` after what is pending; when the store stays locked, keep it pending.

    Returns True when written now, False when kept for later.
    """
    try:
        ingest(store)
        store.write(result, labels=labels)
        return True
    except StoreLockedError:
        keep(store.path, result, labels)
        return False


def settle(store: Store) -> int:
    """At the end of a suite: write what is pending (waiting once more for the lock); returns
    how many results are still kept, with a warning saying where and what writes them."""
    import warnings

    try:
        ingest(store)
    except StoreLockedError:
        pass
    left = len(pending(store.path))
    if left:
        warnings.warn(
            f"{left} finished result(s) could not be written to {store.path} (another process "
            f"held it); they are kept in {pending_dir(store.path)} and written by the next "
            "`harbench run` on this store",
            ResultsKeptWarning,
            stacklevel=2,
        )
    return left


class ResultsKeptWarning(UserWarning):
    """Finished results wait beside the store for its lock."""
