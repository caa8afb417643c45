"""Shared test setup: caches and data roots live in temporary folders, never in ~/.cache."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

warnings.filterwarnings("ignore", category=DeprecationWarning)
# Tiny test models gain nothing from intra-op threads, and threads oversubscribe a busy 2-core box.
torch.set_num_threads(1)
os.environ.setdefault("HARBENCH_THREADS", "1")  # for harbench subprocesses started by tests


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """One window cache per test session (HARBENCH_CACHE), so nothing touches the user's cache."""
    cache = tmp_path_factory.mktemp("harbench-cache")
    old = {k: os.environ.get(k) for k in ("HARBENCH_CACHE", "HARBENCH_DATA", "HARBENCH_DB")}
    os.environ["HARBENCH_CACHE"] = str(cache)
    os.environ["HARBENCH_DATA"] = str(cache / "data")
    os.environ.pop("HARBENCH_DB", None)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A fresh, empty data root for a test that writes a dataset's raw files."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("HARBENCH_DATA", str(root))
    return root
