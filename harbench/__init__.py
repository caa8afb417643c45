"""harbench: a benchmarking harness for adapting Human Activity Recognition models.

The public names below are imported on first use (module ``__getattr__``), so that importing
``harbench`` (and starting the CLI) does not import torch.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

# bitsandbytes (imported by peft when plugins load) warns at import that its optional
# hub-downloaded CPU kernels are absent; its built-in fallback is what runs, so this is noise.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

__version__ = "0.1.0"

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "HarbenchError": ("harbench.contracts", "HarbenchError"),
    "Windows": ("harbench.data.windows", "Windows"),
    "adapt": ("harbench.api", "adapt"),
    "build_model": ("harbench.api", "build_model"),
    "count": ("harbench.api", "count"),
    "load_windows": ("harbench.data.load", "load_windows"),
    "merge": ("harbench.api", "merge"),
    "pooled": ("harbench.metrics", "pooled"),
    "run_suite": ("harbench.api", "run_suite"),
    "score": ("harbench.metrics", "score"),
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harbench' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
