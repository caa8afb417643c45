"""Energy counters: RAPL package energy read from a powercap tree in the kernel's own layout
(wrap-around included), and a clear reason when a source is absent; never an estimate."""

from __future__ import annotations

from pathlib import Path

import torch

from harbench.measure.energy import EnergyMeter, rapl_packages


def write_zone(root: Path, name: str, folder: str, energy_uj: int, max_uj: int) -> Path:
    """One powercap zone as Linux exposes it: name, energy_uj, max_energy_range_uj."""
    zone = root / folder
    zone.mkdir(parents=True)
    (zone / "name").write_text(name + "\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return zone


def test_rapl_package_energy_is_summed_over_packages_and_unwrapped(tmp_path):
    zero = write_zone(tmp_path, "package-0", "intel-rapl:0", 999_000_000, 999_999_999)
    one = write_zone(tmp_path, "package-1", "intel-rapl:1", 5_000_000, 999_999_999)
    write_zone(tmp_path, "core", "intel-rapl:0:0", 1, 999_999_999)  # a sub-zone: not counted
    write_zone(tmp_path, "psys", "intel-rapl:2", 1, 999_999_999)  # not a package
    meter = EnergyMeter(torch.device("cpu"), powercap=tmp_path).start()
    (zero / "energy_uj").write_text("2000000\n")  # wrapped: 1_000_000 + 2_000_000 uJ
    (one / "energy_uj").write_text("9000000\n")  # 4_000_000 uJ
    meter.stop()
    assert meter.metrics() == {"train_energy_cpu_package_j": 7.0}
    cpu = meter.details()["energy"]["cpu"]
    assert cpu["joules"] == 7.0 and "intel-rapl:0/energy_uj (package-0)" in cpu["source"]
    assert "intel-rapl:2" not in cpu["source"]
    assert "absent" in meter.details()["energy"]["gpu"]  # a CPU run has no GPU counter


def test_an_unreadable_or_absent_rapl_is_a_reason_not_a_number(tmp_path):
    zone = write_zone(tmp_path, "package-0", "intel-rapl:0", 10, 100)
    (zone / "energy_uj").write_text("not a number\n")
    zones, why = rapl_packages(tmp_path)
    assert zones == [] and "not readable" in why and "intel-rapl:0" in why
    meter = EnergyMeter(torch.device("cpu"), powercap=tmp_path / "absent")
    with meter:
        pass
    assert meter.metrics() == {}
    assert "absent" in meter.details()["energy"]["cpu"]["absent"]


def test_this_machines_run_details_say_whether_rapl_was_readable():
    meter = EnergyMeter(torch.device("cpu")).start()
    meter.stop()
    cpu = meter.details()["energy"]["cpu"]
    readable = bool(rapl_packages()[0])
    assert ("joules" in cpu) == readable
    assert readable or cpu["absent"]


class FakeNvml:
    """pynvml's calls the meter makes, with a counter that a test advances (millijoules)."""

    def __init__(self):
        self.millijoules, self.asked = 1_000_000, []

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        self.asked.append(index)
        return ("handle", index)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return self.millijoules


def test_nvml_energy_of_the_runs_gpu_in_joules(monkeypatch, tmp_path):
    import sys

    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # cuda:1 is NVML's GPU 5
    meter = EnergyMeter(torch.device("cuda", 1), powercap=tmp_path / "none").start()
    fake.millijoules += 2_500_000
    meter.stop()
    assert fake.asked == [5]
    assert meter.metrics() == {"train_energy_gpu_j": 2500.0}
    assert "nvmlDeviceGetTotalEnergyConsumption" in meter.details()["energy"]["gpu"]["source"]


def test_a_gpu_without_the_counter_is_a_reason(monkeypatch, tmp_path):
    import sys

    class Old(FakeNvml):
        def nvmlDeviceGetTotalEnergyConsumption(self, handle):
            raise RuntimeError("Not Supported")

    monkeypatch.setitem(sys.modules, "pynvml", Old())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    meter = EnergyMeter(torch.device("cuda", 0), powercap=tmp_path / "none").start()
    meter.stop()
    assert meter.metrics() == {}
    assert "Not Supported" in meter.details()["energy"]["gpu"]["absent"]
