"""GPU memory of one run's training phase, read through an injectable memory source.

The runner resets the source's peak when training starts and reads it when training ends, so
evaluation, pretraining and earlier runs in the same process never count. A test replaces the
source (``runner.set_memory_source``) by a fake to check this on a machine without a GPU.
"""

from __future__ import annotations

from typing import Protocol

import torch


class MemorySource(Protocol):
    """Where the runner reads GPU memory from."""

    def applies(self, device: torch.device) -> bool:
        """Whether this source measures runs on ``device``."""

    def reset_peak(self, device: torch.device) -> None:
        """Start a new peak from the memory in use now."""

    def read(self, device: torch.device) -> dict[str, float]:
        """Metrics (MiB) since the last reset: peak allocated, peak reserved, process memory."""


class TorchCudaMemory:
    """torch's CUDA caching-allocator counters plus NVML's view of this process."""

    def applies(self, device: torch.device) -> bool:
        return device.type == "cuda" and torch.cuda.is_available()

    def reset_peak(self, device: torch.device) -> None:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)

    def read(self, device: torch.device) -> dict[str, float]:
        from harbench.measure.memory import _nvml_process_bytes

        torch.cuda.synchronize(device)
        out = {
            "cuda_peak_allocated_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "cuda_peak_reserved_mb": torch.cuda.max_memory_reserved(device) / 2**20,
        }
        process = _nvml_process_bytes(device)
        if process is not None:
            out["cuda_process_mb"] = process / 2**20
        return out
