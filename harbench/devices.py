"""Where and how runs compute: the device and the torch threads of a run (set by environment)."""

from __future__ import annotations

import os

import torch

from harbench.contracts import HarbenchError


def run_threads() -> int:
    """Torch threads per run: ``HARBENCH_THREADS``, default 1.

    HAR backbones are small: intra-op threads buy little and, on a busy machine, oversubscribed
    threads slowed an epoch 17x in our measurements. Parallelise across runs instead
    (``executor: {name: process, workers: N}``).
    """
    value = os.environ.get("HARBENCH_THREADS", "1")
    try:
        threads = int(value)
    except ValueError:
        raise HarbenchError(f"HARBENCH_THREADS must be an integer, got {value!r}") from None
    return max(1, threads)


def run_device() -> torch.device:
    """``HARBENCH_DEVICE`` (e.g. "cuda"), default the CPU. Results are deterministic on the CPU."""
    return torch.device(os.environ.get("HARBENCH_DEVICE", "cpu"))
