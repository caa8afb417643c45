"""One running copy of a suite per store: a second ``harbench run`` of the same suite on the same
store is refused (it would train every pending run a second time).

The lock is an advisory ``flock`` on ``<store>.locks/<hash of the suite name>.lock``: the
operating system releases it when the process ends, however it ends, so a killed suite never
leaves a stale lock behind.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harbench.contracts import HarbenchError


def lock_path(db_path: str | Path, suite: str) -> Path:
    path = Path(db_path)
    digest = hashlib.sha256(suite.encode()).hexdigest()[:16]
    return path.with_name(path.name + ".locks") / f"{digest}.lock"


@contextmanager
def suite_lock(db_path: str | Path, suite: str) -> Iterator[None]:
    """Hold the lock of ``suite`` on the store at ``db_path``; a HarbenchError when another
    process holds it."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no protection, as before
        yield
        return
    path = lock_path(db_path, suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 64, 0).decode(errors="replace").strip() or "?"
            raise HarbenchError(
                f"suite {suite!r} is already running on {db_path} (process {holder}); "
                "wait for it to finish, or run it on another store (--db)"
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(handle)
