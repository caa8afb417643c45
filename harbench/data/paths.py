"""Where harbench keeps things on disk: the per-user cache and the data root (no heavy imports)."""

from __future__ import annotations

import os
from pathlib import Path

from harbench.contracts import DatasetPlugin


def default_cache_dir() -> Path:
    """``HARBENCH_CACHE``, else ``~/.cache/harbench``."""
    env = os.environ.get("HARBENCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "harbench"


def data_root(root: str | Path | None = None) -> Path:
    """The folder of per-dataset folders: ``root``, ``HARBENCH_DATA``, else the cache."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("HARBENCH_DATA")
    if env:
        return Path(env).expanduser()
    return default_cache_dir() / "data"


def dataset_root(dataset: DatasetPlugin, root: str | Path | None = None) -> Path:
    """This dataset's own folder: ``<data root>/<name>``."""
    return data_root(root) / dataset.name
