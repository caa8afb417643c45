"""Energy used while training, read from the machine's own counters; never estimated.

Two sources, each used only where the machine exposes it:
- GPU: NVML's total energy counter (``nvmlDeviceGetTotalEnergyConsumption``, millijoules since
  the driver loaded; Volta and newer) of the run's CUDA device, read before and after ``fit``.
- CPU: Linux RAPL package energy, ``/sys/class/powercap/intel-rapl:N/energy_uj`` of every
  ``package-N`` zone (microjoules, wrapping at ``max_energy_range_uj``), read before and after.
  RAPL counts the whole package: other processes on the machine are included.

A source that cannot be read gives no metric; the run's details say why (``energy`` entry).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

POWERCAP = Path("/sys/class/powercap")


@dataclass
class RaplZone:
    name: str
    path: Path
    wrap: int  # max_energy_range_uj + 1

    def read(self) -> int:
        return int((self.path / "energy_uj").read_text().strip())


def rapl_packages(root: Path = POWERCAP) -> tuple[list[RaplZone], str]:
    """The readable RAPL package zones under ``root``, or [] and why there are none."""
    if not root.is_dir():
        return [], f"{root} is absent (no RAPL powercap interface on this machine)"
    zones, problems = [], []
    for folder in sorted(root.glob("intel-rapl:*")):
        if folder.name.count(":") != 1:  # intel-rapl:0:1 is a sub-zone (core, dram, ...)
            continue
        try:
            name = (folder / "name").read_text().strip()
            if not name.startswith("package"):
                continue
            wrap = int((folder / "max_energy_range_uj").read_text().strip()) + 1
            zone = RaplZone(name, folder, wrap)
            zone.read()
        except (OSError, ValueError) as exc:
            problems.append(f"{folder}: {getattr(exc, 'strerror', None) or exc}")
            continue
        zones.append(zone)
    if zones:
        return zones, ""
    if problems:
        return [], "RAPL package counters not readable (" + "; ".join(problems) + ")"
    return [], f"no RAPL package zone under {root}"


def _nvml_reader(device: torch.device) -> tuple[Callable[[], float] | None, str]:
    """A function returning the device's NVML energy counter in joules, or None and why."""
    if device.type != "cuda":
        return None, "the run trained on the CPU (no GPU energy counter)"
    try:
        import pynvml

        pynvml.nvmlInit()
        index = device.index if device.index is not None else torch.cuda.current_device()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
        if visible[0] and index < len(visible) and visible[index].strip().isdigit():
            index = int(visible[index])  # NVML numbers every GPU; CUDA only the visible ones
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception as exc:  # no driver, an older GPU without the counter, no permission
        return None, f"NVML energy counter not readable ({type(exc).__name__}: {exc})"
    return (lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0), ""


@dataclass
class EnergyMeter:
    """Reads the counters around a block: ``with meter: fit(...)``, then ``metrics()`` and
    ``details()``."""

    device: torch.device
    powercap: Path = POWERCAP
    _start: dict[str, Any] = field(default_factory=dict)
    _joules: dict[str, float] = field(default_factory=dict)
    _why: dict[str, str] = field(default_factory=dict)

    def start(self) -> EnergyMeter:
        """Read the counters now (the same as entering the ``with`` block)."""
        return self.__enter__()

    def stop(self) -> None:
        """Read the counters again (the same as leaving the ``with`` block)."""
        self.__exit__(None, None, None)

    def __enter__(self) -> EnergyMeter:
        self._gpu, why = _nvml_reader(self.device)
        if self._gpu is None:
            self._why["gpu"] = why
        else:
            self._start["gpu"] = self._gpu()
        self._zones, why = rapl_packages(self.powercap)
        if not self._zones:
            self._why["cpu"] = why
        else:
            self._start["cpu"] = [z.read() for z in self._zones]
        return self

    def __exit__(self, *exc: Any) -> None:
        if "gpu" in self._start:
            self._joules["gpu"] = self._gpu() - self._start["gpu"]
        if "cpu" in self._start:
            total = 0
            for zone, before in zip(self._zones, self._start["cpu"]):
                total += (zone.read() - before) % zone.wrap  # one wrap-around is undone
            self._joules["cpu"] = total / 1e6

    def metrics(self) -> dict[str, float]:
        names = {"gpu": "train_energy_gpu_j", "cpu": "train_energy_cpu_package_j"}
        return {names[k]: v for k, v in self._joules.items()}

    def details(self) -> dict[str, Any]:
        sources = {"gpu": "NVML nvmlDeviceGetTotalEnergyConsumption",
                   "cpu": "RAPL " + ", ".join(f"{z.path}/energy_uj ({z.name})"
                                              for z in getattr(self, "_zones", []))}
        out: dict[str, Any] = {}
        for key in ("gpu", "cpu"):
            if key in self._joules:
                out[key] = {"joules": self._joules[key], "source": sources[key],
                            "scope": "training (fit) only"}
            else:
                out[key] = {"absent": self._why.get(key, "not measured")}
        return {"energy": out}
