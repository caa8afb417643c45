"""harbench: a benchmarking harness for adapting Human Activity Recognition models."""

import logging

from harbench.api import adapt, build_model, count, merge, run_suite
from harbench.contracts import HarbenchError
from harbench.data.load import load_windows
from harbench.data.windows import Windows

# bitsandbytes (imported by peft when plugins load) warns at import that its optional
# hub-downloaded CPU kernels are absent; its built-in fallback is what runs, so this is noise.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

__version__ = "0.1.0"

__all__ = [
    "HarbenchError",
    "Windows",
    "adapt",
    "build_model",
    "count",
    "load_windows",
    "merge",
    "run_suite",
    "__version__",
]
