"""Modules imported on first use, so that registering plugins (and starting the CLI) stays light.

``np = lazy.module("numpy")`` at the top of a plugin module behaves like ``import numpy as np``
except that numpy is imported when an attribute is first read (inside a loader), not when the
plugin is registered. Use it only where no module-level statement reads the module.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Deferred:
    """Stands for a module until first use; then every attribute comes from the real one."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        value = getattr(self._module, attribute)
        setattr(self, attribute, value)  # later reads are plain attribute lookups
        return value

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<module {self._name!r} ({state}, deferred by harbench.lazy)>"


def module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when an attribute is first read."""
    return _Deferred(name)
