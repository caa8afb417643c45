"""The CPU memory measured around training alone: the heap's peak bytes in use (glibc's own count,
which sees torch tensors) and the RSS high-water mark, each over the phase's start (issue 21)."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from harbench.measure import memory
from harbench.report.leaderboard import peak_memory
from harbench.report.runs import Run

MB = 2**20
needs_glibc = pytest.mark.skipif(memory._heap_reader() is None,
                                 reason="glibc's mallinfo2 is not available here")


@needs_glibc
def test_the_heap_peak_sees_a_tensor_that_lived_only_inside_the_phase():
    with memory.training_peak() as measured:
        block = torch.ones(64 * MB // 4)  # 64 MB of float32, touched
        time.sleep(0.02)  # the sampler reads every millisecond
        del block
    assert 63 <= measured["train_peak_heap_mb"] <= 70
    assert measured["train_peak_rss_mb"] >= 50  # the OS gave at least most of it


@needs_glibc
def test_memory_from_before_the_phase_is_not_counted():
    before = torch.ones(64 * MB // 4)
    with memory.training_peak() as measured:
        small = torch.ones(4 * MB // 4)
        time.sleep(0.02)
        del small
    del before
    assert 3.5 <= measured["train_peak_heap_mb"] <= 8


@needs_glibc
def test_the_sampler_stops_when_training_raises():
    threads = threading.active_count()
    with pytest.raises(RuntimeError), memory.training_peak() as measured:
        raise RuntimeError("diverged")
    assert threading.active_count() == threads and "train_peak_heap_mb" in measured


def test_nothing_is_measured_when_disabled():
    with memory.training_peak(enabled=False) as measured:
        pass
    assert measured == {}


def _run(**metrics) -> Run:
    return Run("id", "d", "m", "m", "x", "x", "loso", 0, 0, "ok", "cpu", {}, metrics=metrics)


def test_the_leaderboard_reads_the_training_heap_peak_before_the_old_rss_figure():
    assert peak_memory(_run(train_peak_heap_mb=3.0, train_peak_rss_mb=9.0,
                            peak_rss_over_start_mb=112.0)) == 3.0
    assert peak_memory(_run(cuda_peak_allocated_mb=20.0, train_peak_heap_mb=3.0)) == 20.0
    assert peak_memory(_run(peak_rss_over_start_mb=112.0)) == 112.0  # a store made before


@needs_glibc
def test_a_cpu_run_stores_its_training_peak_beside_the_analytic_breakdown():
    from harbench import runner, suite

    text = """
name: unit
defaults:
  training: {epochs: 2, batch_size: 32, patience: 2}
matrix:
  datasets: [synthetic]
  models: [{tinierhar: {filters: 4, hidden: 8}}]
  methods: [full]
  seeds: [0]
  folds: [0]
"""
    (spec,) = suite.loads(text).expand()
    result = runner.run_one(spec)
    assert result.status == "ok", result.error
    m = result.metrics
    assert m["train_peak_heap_mb"] > 0 and m["mem_total_bytes"] > 0
    # the analytic step (weights, gradients, AdamW state, one batch's activations) lives inside it
    assert m["train_peak_heap_mb"] * MB >= 0.5 * m["mem_total_bytes"]
    assert "train_peak_rss_mb" in m and "cuda_peak_allocated_mb" not in m


@pytest.mark.skipif(memory._rss_parts() is None, reason="needs /proc/self/status (Linux)")
def test_the_runs_own_peak_still_counts_what_came_before_the_training_phase():
    memory.reset_peak_rss()
    block = bytearray(200 * MB)  # zero-filled: every page touched, then handed back
    del block
    peak_before = memory.peak_rss_bytes()
    with memory.training_peak():
        pass
    assert memory.peak_rss_bytes() >= peak_before  # peak_rss_over_start_mb keeps its meaning
