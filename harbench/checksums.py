"""Content hashes of cache entries: written inside the entry's atomic folder, checked on read.

A cache entry (a folder of windows or a pretraining checkpoint) carries ``checksums.json``,
``{file name: sha256}`` of every file it holds, written into the temporary folder before the one
rename that publishes the entry. A reader checks the hashes before using a byte of the entry; an
entry whose bytes differ (or that has no checksums: written by an older harbench) is reported with
a :class:`CacheWarning` naming the file, moved out of the way and rebuilt by the caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from pathlib import Path

CHECKSUMS = "checksums.json"
CHUNK = 1 << 20


class CacheWarning(UserWarning):
    """A cache entry failed its check: it is rebuilt, never used."""


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write(folder: Path, names: list[str]) -> None:
    """Record the hash of each of ``names`` in ``folder/checksums.json``."""
    sums = {name: file_digest(folder / name) for name in names}
    (folder / CHECKSUMS).write_text(json.dumps(sums, indent=1, sort_keys=True))


def problems(folder: Path, required: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with the entry in ``folder``, one sentence per file ([] when it is sound)."""
    sums_path = folder / CHECKSUMS
    try:
        sums = json.loads(sums_path.read_text())
    except FileNotFoundError:
        return [f"{sums_path} is missing (an entry without checksums cannot be verified)"]
    except (OSError, ValueError) as exc:
        return [f"{sums_path} is unreadable ({exc})"]
    if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
        return [f"{sums_path} is not a mapping of file names to hashes"]
    found = []
    for name in sorted(set(sums) | set(required)):
        path = folder / name
        if name not in sums:
            found.append(f"{path} has no recorded checksum")
            continue
        try:
            actual = file_digest(path)
        except OSError as exc:
            found.append(f"{path} cannot be read ({exc.strerror or exc})")
            continue
        if actual != sums[name]:
            found.append(f"{path} does not match its checksum (changed after it was written)")
    return found


_SOUND: set[tuple] = set()  # stat signatures of entries this process has hashed and found sound


def _signature(folder: Path, required: tuple[str, ...]) -> tuple | None:
    """Identity, size and modification time of each file: any write changes one of them."""
    parts = []
    for name in (CHECKSUMS, *required):
        try:
            st = os.stat(folder / name)
        except OSError:
            return None
        parts.append((name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return (str(folder), *parts)


def verified(folder: Path, what: str, required: tuple[str, ...] = ()) -> bool:
    """True when the entry is sound; else warn naming the bad file(s), discard it, return False.

    An entry is hashed once per process: later reads compare each file's inode, size and
    modification time with those of the hashed files (a write in place changes the time).
    """
    signature = _signature(folder, required)
    if signature is not None and signature in _SOUND:
        return True
    found = problems(folder, required)
    if not found:
        if signature is not None:
            _SOUND.add(signature)
        return True
    warnings.warn(
        f"{what} cache entry failed its check and is rebuilt, not used: " + "; ".join(found),
        CacheWarning,
        stacklevel=3,
    )
    discard(folder)
    return False


def discard(folder: Path) -> None:
    """Remove an entry: renamed aside first (one step), so no reader sees it half deleted."""
    aside = folder.with_name(f".discarded-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(folder, aside)
    except OSError:  # already discarded (or replaced) by another process
        return
    shutil.rmtree(aside, ignore_errors=True)
