"""On-disk cache of windows: memory-mappable .npy files keyed by everything that shaped them.

Each entry carries the sha256 of its files (``harbench.checksums``), checked before it is used: a
changed or truncated file is reported, the entry is discarded and the caller rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from harbench import checksums
from harbench.atomic import write_folder
from harbench.data.paths import default_cache_dir  # noqa: F401 (re-exported)
from harbench.data.windows import Windows

ARRAYS = ("X", "y", "subject", "recording", "start")
FILES = (*(f"{a}.npy" for a in ARRAYS), "meta.json")


def cache_key(parts: dict[str, Any]) -> str:
    """A short stable hash of a JSON-able dict."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_cached(folder: Path, *, verify: bool = True) -> Windows | None:
    """Windows stored in ``folder`` (memory-mapped), or None if absent, incomplete or failing its
    checksums (then it is discarded with a :class:`~harbench.checksums.CacheWarning`)."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    if verify and not checksums.verified(folder, "window", FILES):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        arrays = {
            a: np.load(folder / f"{a}.npy", mmap_mode="r", allow_pickle=False) for a in ARRAYS
        }
    except (OSError, ValueError):
        return None
    return Windows(
        X=arrays["X"],
        y=np.asarray(arrays["y"]),
        subject=np.asarray(arrays["subject"]),
        recording=np.asarray(arrays["recording"]),
        start=np.asarray(arrays["start"]),
        classes=tuple(meta["classes"]),
        channels=tuple(meta["channels"]),
        rate_hz=float(meta["rate_hz"]),
        dataset=meta.get("dataset", ""),
    )


def store(folder: Path, windows: Windows, key_parts: dict[str, Any]) -> bool:
    """Write ``windows`` into ``folder`` atomically; False when another process stored it first."""

    def fill(tmp: Path) -> None:
        for a in ARRAYS:
            np.save(tmp / f"{a}.npy", np.ascontiguousarray(getattr(windows, a)), allow_pickle=False)
        meta = {
            "classes": list(windows.classes),
            "channels": list(windows.channels),
            "rate_hz": windows.rate_hz,
            "dataset": windows.dataset,
            "key": key_parts,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, default=str))
        checksums.write(tmp, list(FILES))

    return write_folder(folder, fill)
