"""Measurements: analytic training memory, child-process peak RSS, weight bytes, timing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

from harbench import HarbenchError
from harbench.measure import memory, timing

MIB = 1 << 20


def small_model() -> nn.Sequential:
    """Linear(10, 20) frozen -> BatchNorm1d(20) -> ReLU -> Linear(20, 5)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 5))
    model[0].requires_grad_(False)
    return model


def test_analytic_breakdown_is_exact_for_a_small_known_model():
    model = small_model()
    x = torch.randn(8, 10)
    running_mean = model[1].running_mean.clone()
    got = memory.training_memory_breakdown(model, x)
    # parameters 220 + 40 + 105 floats; buffers: running mean/var 2 x 20 floats + one int64
    assert got["weights"] == (220 + 40 + 105) * 4 + 40 * 4 + 8
    assert got["frozen_weights"] == 220 * 4
    assert got["gradients"] == (40 + 105) * 4
    assert got["optimiser"] == (40 + 105) * 2 * 4  # AdamW: two fp32 states
    # saved for backward at batch 8: BatchNorm's input [8, 20] and batch mean and inverse std
    # [20] each; ReLU's output [8, 20] (the last Linear saves that same tensor). The frozen
    # first Linear on an input without grad saves nothing.
    assert got["activations"] == 8 * 20 * 4 + 2 * 20 * 4 + 8 * 20 * 4
    assert got["total"] == sum(got[k] for k in ("weights", "gradients", "optimiser", "activations"))
    # measuring leaves the BatchNorm statistics and the mode as they were
    assert torch.equal(model[1].running_mean, running_mean)
    assert int(model[1].num_batches_tracked) == 0
    # frozen BatchNorm (eval mode) saves no batch statistics
    assert memory.activation_bytes(model, x, bn_frozen=True) == 2 * 8 * 20 * 4
    # activations scale with the batch
    assert memory.activation_bytes(model, torch.randn(16, 10)) == 16 * 20 * 4 * 2 + 2 * 20 * 4


def test_parameter_summary_and_adapter_bytes():
    model = small_model()
    summary = memory.parameter_summary(model)
    assert (summary["trainable"], summary["total"]) == (145, 365)
    assert summary["share"] == pytest.approx(145 / 365)
    assert memory.parameter_summary(model, reference_params=1000)["share"] == pytest.approx(0.145)
    small = memory.adapter_bytes({"a": torch.zeros(1000)})
    big = memory.adapter_bytes({"a": torch.zeros(1000), "b": torch.zeros(10_000)})
    assert 4000 < small < 4000 + 2000
    assert big - small == pytest.approx(40_000, abs=1000)


def test_frozen_weight_bytes_of_a_4bit_model_are_a_fraction_of_fp32():
    import bitsandbytes as bnb  # here, not at the top: spawned children import this module

    torch.manual_seed(0)
    fp32 = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256))
    fp32.requires_grad_(False)
    quantised = nn.Sequential(
        bnb.nn.Linear4bit(256, 256, quant_type="nf4", compress_statistics=True),
        nn.ReLU(),
        bnb.nn.Linear4bit(256, 256, quant_type="nf4", compress_statistics=True),
    )
    quantised.load_state_dict(fp32.state_dict())
    quantised = quantised.to("cpu")  # quantises the weights
    quantised.requires_grad_(False)
    weight = quantised[0].weight
    assert weight.quant_state is not None and weight.dtype == torch.uint8
    full = memory.frozen_weight_bytes(fp32)
    assert full == 2 * (256 * 256 + 256) * 4
    four_bit = memory.frozen_weight_bytes(quantised)
    packed = 2 * 256 * 256 // 2 + 2 * 256 * 4  # 4-bit weights plus fp32 biases
    assert packed < four_bit <= 0.2 * full
    # the quantisation statistics (absmax per 64-block, compressed to 8 bit) are counted
    assert four_bit - packed >= 2 * (256 * 256 // 64)


def _allocate(megabytes: int) -> tuple[int, bool]:
    """Touch a block of ``megabytes``; also say whether the child preloaded ``tabnanny``."""
    block = np.ones(megabytes * MIB, dtype=np.uint8)
    return int(block.sum()), "tabnanny" in sys.modules


def _fail() -> None:
    raise ValueError("broken on purpose")


def test_peak_rss_of_a_child_process_sees_a_big_allocation():
    busy = memory.peak_training_memory(_allocate, 200, device="cpu", preload=["tabnanny"])
    assert busy.kind == "cpu_rss"  # peak_rss_of ran it in a spawned child
    assert busy.result == (200 * MIB, True)
    # the child's resident size after importing torch, then the 200 MiB array on top of it
    assert 50 * MIB < busy.baseline_bytes < 2048 * MIB
    assert 190 * MIB < busy.extra_bytes < 230 * MIB
    assert busy.peak_bytes == busy.baseline_bytes + busy.extra_bytes


def test_peak_rss_of_reports_a_failure_of_the_function():
    with pytest.raises(RuntimeError, match="ValueError: broken on purpose"):
        memory.peak_rss_of(_fail)


def test_cuda_peak_memory_measures_on_a_gpu_and_refuses_without_one():
    if torch.cuda.is_available():
        peak = memory.peak_training_memory(torch.ones, 1000, device="cuda")
        assert peak.kind == "cuda" and peak.extra_bytes >= 4000
    else:
        with pytest.raises(HarbenchError, match="CUDA"):
            memory.cuda_peak_memory(torch.ones, 3)


CURVES = [
    {"epoch": 1, "val_f1": 0.40, "seconds": 2.0},
    {"epoch": 2, "val_f1": 0.70, "seconds": 3.0},
    {"epoch": 3, "val_f1": 0.90, "seconds": 2.5},
    {"epoch": 4, "val_f1": 0.96, "seconds": 2.5},
    {"epoch": 5, "val_f1": 0.93, "seconds": 2.0},
]


def test_time_to_target_on_hand_made_curves():
    got = timing.time_to_target(CURVES)  # 95% of the best 0.96 = 0.912 -> epoch 4
    assert got["target"] == pytest.approx(0.912)
    assert (got["epochs"], got["seconds"]) == (4, pytest.approx(10.0))
    assert got["best_val_f1"] == pytest.approx(0.96)
    got = timing.time_to_target(CURVES, target=0.7)
    assert (got["epochs"], got["seconds"]) == (2, pytest.approx(5.0))
    assert timing.time_to_target(CURVES, fraction=0.5)["epochs"] == 2
    never = timing.time_to_target(CURVES, target=0.99)
    assert never["epochs"] is None and never["seconds"] is None
    cumulative = [{"epoch": 1, "val_f1": 0.5, "wall_time": 4.0},
                  {"epoch": 2, "val_f1": 0.8, "wall_time": 9.5}]
    assert timing.time_to_target(cumulative, target=0.8)["seconds"] == pytest.approx(9.5)
    assert timing.time_to_target([])["epochs"] is None


def test_convergence_speedup_compares_two_runs_at_a_common_target():
    fast = [{"epoch": 1, "val_f1": 0.60, "seconds": 1.0},
            {"epoch": 2, "val_f1": 0.88, "seconds": 1.0}]
    got = timing.convergence_speedup(CURVES, fast)
    # common target: 95% of the lower best (0.88) = 0.836 -> reference epoch 3 (7.5 s), fast 2 s
    assert got["target"] == pytest.approx(0.836)
    assert got["time_ratio"] == pytest.approx(7.5 / 2.0)
    assert got["epoch_ratio"] == pytest.approx(1.5)
    assert timing.convergence_speedup(CURVES, fast, target=0.95)["time_ratio"] is None


def test_latency_returns_positive_medians_and_restores_the_mode():
    model = nn.Sequential(nn.Flatten(), nn.Linear(20 * 3, 4))
    model.train()
    got = timing.latency(model, window=20, channels=3, batch_sizes=(1, 64), repeats=5, warmup=1)
    assert set(got) == {1, 64}
    assert all(v > 0 for v in got.values())
    assert model.training
    with pytest.raises(HarbenchError, match="repeats"):
        timing.median_forward_seconds(model, torch.zeros(1, 20, 3), repeats=0)
