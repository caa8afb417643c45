"""The runner: label budgets on validation, per-run GPU peaks, device, BN policy, stored metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harbench import runner, suite
from harbench.events import EpochEnded

SUITE = """
name: unit
defaults:
  training: {{epochs: 2, batch_size: 32, patience: 2{training}}}
matrix:
  datasets: [synthetic]
  models: [{{tinierhar: {{filters: 4, hidden: 8}}}}]
  methods: [{methods}]
  seeds: [0]
  folds: [0]
"""


def specs(methods: str = "full", training: str = "") -> list:
    loaded = suite.loads(SUITE.format(methods=methods, training=training))
    plan = loaded.expand() if hasattr(loaded, "expand") else loaded.specs
    return list(getattr(plan, "specs", plan))


def run_ok(spec, emit=None) -> runner.RunResult:
    result = runner.run_one(spec, emit)
    assert result.status == "ok", result.error
    return result


def test_a_budgeted_runs_validation_windows_obey_the_budget():
    spec = specs(training=", budget: {per_class: 3}")[0]
    data = runner.prepare(spec)
    y = data.windows.y
    for part in (data.labelled, data.val):
        counts = np.bincount(y[part], minlength=len(data.windows.classes))
        assert counts.max() <= 3 and counts.sum() > 0
    subjects = data.windows.subject
    assert not set(subjects[data.val]) & set(subjects[data.labelled])  # validation subjects apart
    unbudgeted = runner.prepare(specs()[0])
    assert len(unbudgeted.val) > len(data.val)
    assert set(subjects[data.val]) <= set(subjects[unbudgeted.val])
    result = run_ok(spec)
    assert result.metrics["val_windows"] == len(data.val)
    assert result.metrics["train_windows"] == len(data.labelled)


class FakeCuda:
    """A GPU memory source on the CPU: training steps raise the peak by what a test says."""

    def __init__(self):
        self.current, self.peak, self.bump = 0.0, 0.0, 0.0

    def applies(self, device):
        return True

    def reset_peak(self, device):
        self.peak = self.current

    def read(self, device):
        return {"cuda_peak_allocated_mb": self.peak, "cuda_peak_reserved_mb": self.peak + 1}

    def on_event(self, event):  # an epoch's training allocated ``bump`` MB more
        if isinstance(event, EpochEnded):
            self.peak = max(self.peak, self.current + self.bump)


def test_a_second_run_in_one_process_reports_its_own_gpu_peak():
    fake = FakeCuda()
    previous = runner.set_memory_source(fake)
    try:
        spec = specs()[0]
        fake.bump = 900.0
        first = run_ok(spec, fake.on_event)
        fake.bump = 40.0
        second = run_ok(spec, fake.on_event)
    finally:
        runner.set_memory_source(previous)
    assert first.metrics["cuda_peak_allocated_mb"] == 900.0
    assert second.metrics["cuda_peak_allocated_mb"] == 40.0
    assert second.metrics["cuda_peak_reserved_mb"] == 41.0


def test_the_stored_device_is_the_one_the_run_used(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with a GPU ...
    monkeypatch.delenv("HARBENCH_DEVICE", raising=False)  # ... running on the CPU
    assert runner.environment()["device"] == "cpu"
    assert runner.environment("cpu")["device"] == "cpu"


def test_metrics_setup_time_and_trainable_shares():
    full, probe = (run_ok(s) for s in specs("full, linear_probe"))
    for result in (full, probe):
        m = result.metrics
        assert m["setup_seconds"] >= 0 and "time_to_target_s" not in m
        assert "epochs_to_target" not in m
        train_rows = [r for r in result.curves if r["stage"] == "train"]
        assert len(train_rows) == m["epochs"] and all(r["seconds"] > 0 for r in train_rows)
        assert m["macro_f1_all_classes"] <= m["macro_f1"] + 1e-12
    assert full.metrics["trainable_share"] == pytest.approx(1.0)
    assert full.metrics["trainable_share_no_head"] == pytest.approx(1.0)
    assert probe.metrics["trainable_params_no_head"] == 0
    assert probe.metrics["trainable_share_no_head"] == 0.0
    assert 0 < probe.metrics["trainable_share"] < 0.2


def test_bn_policy_comes_from_the_training_setting():
    default, = specs("linear_probe")
    assert runner.bn_policy(default) == "update"
    assert run_ok(default).details["bn_policy"] == "update"
    frozen, = specs("linear_probe", ", bn_policy: frozen")
    assert runner.bn_policy(frozen) == "frozen"
    own, = specs("linear_probe", ", bn_policy: method")
    from harbench import plugins

    assert runner.bn_policy(own) == plugins.get("methods", "linear_probe").bn_policy


def test_setup_warm_up_leaves_results_unchanged():
    spec, = specs("{lora: {r: 4}}")
    runner._warmed.discard("lora")
    first = run_ok(spec)  # adapts a copy first (untimed), then the run's model
    assert "lora" in runner._warmed
    second = run_ok(spec)  # no warm-up this time
    assert first.metrics["macro_f1"] == second.metrics["macro_f1"]
    losses = [[r["train_loss"] for r in res.curves] for res in (first, second)]
    assert losses[0] == losses[1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_each_run_reports_its_own_training_peak(monkeypatch):
    monkeypatch.setenv("HARBENCH_DEVICE", "cuda")
    spec = specs()[0]
    held: list[torch.Tensor] = []

    def allocate(event):  # 512 MiB during the first run's training only
        if isinstance(event, EpochEnded) and not held:
            held.append(torch.empty(2**27, dtype=torch.float32, device="cuda"))

    first = run_ok(spec, allocate)
    held.clear()
    torch.cuda.empty_cache()
    second = run_ok(spec)
    assert first.metrics["cuda_peak_allocated_mb"] >= 512
    assert second.metrics["cuda_peak_allocated_mb"] < 512
    assert first.env["device"].startswith("cuda") and second.details["device"] == "cuda"


def test_the_runner_emits_one_event_per_training_epoch():
    spec = specs()[0]
    seen = []
    result = run_ok(spec, seen.append)
    epochs = [e for e in seen if isinstance(e, EpochEnded)]
    train_rows = [r for r in result.curves if r["stage"] == "train"]
    assert [e.epoch for e in epochs] == [r["epoch"] for r in train_rows]
    assert [e.val_f1 for e in epochs] == [r["val_f1"] for r in train_rows]
    assert all(e.run_id == spec.run_id for e in epochs)
    assert epochs[-1].seconds == pytest.approx(sum(r["seconds"] for r in train_rows))
