"""run_one(RunSpec) -> RunResult: a pure function of its spec; it never writes the database."""

from __future__ import annotations

import platform
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch

from harbench import blocks, codeprint, plugins, pretrain
from harbench.artifacts.save import save_for_run
from harbench.contracts import HarbenchError
from harbench.devices import run_device, run_threads
from harbench.finite import check_metrics
from harbench.measure.counting import trainable_shares
from harbench.measure.energy import EnergyMeter
from harbench.measure.gpu import MemorySource, TorchCudaMemory
from harbench.metrics import macro_f1_seen
from harbench.rundata import prepare
from harbench.suite import RunSpec
from harbench.train import DivergedError, TrainConfig, evaluate, fit, to_tensors

_epoch_listener: Callable[[RunSpec, dict[str, float]], None] | None = None
_memory_source: MemorySource = TorchCudaMemory()


def set_epoch_listener(listener: Callable[[RunSpec, dict[str, float]], None] | None) -> None:
    """Receive each epoch's curve row of runs executed in this process (for progress display)."""
    global _epoch_listener
    _epoch_listener = listener


def set_memory_source(source: MemorySource | None) -> MemorySource:
    """Read GPU memory through ``source`` (None: torch's CUDA counters); returns the previous."""
    global _memory_source
    previous, _memory_source = _memory_source, source or TorchCudaMemory()
    return previous


@dataclass
class RunResult:
    run_id: str
    spec: dict[str, Any]
    status: str  # "ok" or "failed"
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    env: dict[str, str] = field(default_factory=dict)


def environment(device: torch.device | str | None = None) -> dict[str, str]:
    """Versions and the device the run used (default: the device runs are placed on)."""
    from harbench import __version__

    device = torch.device(device) if device is not None else run_device()
    name = "cpu"
    if device.type == "cuda" and torch.cuda.is_available():
        name = f"cuda:{torch.cuda.get_device_name(device)}"
    elif device.type != "cpu":
        name = str(device)
    return {
        "harbench": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": name,
        "host": platform.node(),
        "threads": str(torch.get_num_threads()),
    }


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _now() -> str:
    """The current UTC time as ISO text without an offset (the store's timestamps are UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def run_one(
    spec: RunSpec, on_epoch: Callable[[dict[str, float]], None] | None = None
) -> RunResult:
    """Execute one cell; any exception becomes a failed result carrying its error text.

    ``on_epoch`` receives each training epoch's curve row (an executor turns it into events).
    """
    started = _now()
    code = codeprint.for_spec_or_empty(spec)  # the code as loaded, before the run
    torch.set_num_threads(run_threads())
    try:
        metrics, curves, details = _execute(spec, on_epoch)
        status, error = "ok", ""
    except (HarbenchError, DivergedError) as exc:
        metrics, curves, details = {}, [], {}
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a run that raises must not stop the suite
        metrics, curves, details = {}, [], {}
        status = "failed"
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    return RunResult(
        run_id=spec.run_id,
        spec=spec.canonical(),
        status=status,
        error=error,
        metrics=metrics,
        curves=curves,
        details=details,
        started_at=started,
        finished_at=_now(),
        env={**environment(), "code": code},
    )


def failed_result(spec: RunSpec, error: str) -> RunResult:
    """The result of a run that could not execute at all (e.g. its worker process died)."""
    now = _now()
    return RunResult(
        run_id=spec.run_id,
        spec=spec.canonical(),
        status="failed",
        error=error,
        started_at=now,
        finished_at=now,
        env=environment(),
    )


def bn_policy(spec: RunSpec) -> str:
    """The run's BatchNorm policy: the training setting, "method" meaning the method's own."""
    return blocks.resolve_bn_policy(spec.training.get("bn_policy") or "update", spec.method)


_warmed: set[str] = set()


def _warm_up(spec: RunSpec, model, setting: str) -> None:
    """Adapt a copy once per method and process, so that setup time leaves out the one-off
    imports a method makes on first use (peft, tensorly): those are not the method's cost."""
    if spec.method in _warmed:
        return
    import copy

    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):  # the run's random draws stay as without warm-up
        blocks.adapt(copy.deepcopy(model), spec.method, bn_policy=setting, **spec.method_params)
    random.setstate(py_state)
    np.random.set_state(np_state)
    _warmed.add(spec.method)


def _execute(
    spec: RunSpec, on_epoch: Callable[[dict[str, float]], None] | None = None
) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, Any]]:
    from harbench.measure import memory

    seed_everything(spec.seed)
    device = run_device()
    memory.reset_peak_rss()  # the peak from here on is this run's own
    rss_baseline = memory.peak_rss_bytes()
    data = prepare(spec)
    windows, fold = data.windows, data.fold
    X_train, y_train = to_tensors(data.normalised(data.labelled), windows.y[data.labelled])
    X_val, y_val = to_tensors(data.normalised(data.val), windows.y[data.val])
    X_test, y_test = to_tensors(data.normalised(data.test), windows.y[data.test])
    n_classes, n_channels, window = len(windows.classes), X_train.shape[2], X_train.shape[1]

    model = blocks.build_model(
        spec.model, channels=n_channels, window=window, classes=n_classes, **spec.model_params
    )
    pretrain.strip_pretraining(model)  # a pretraining-only decoder is not part of the model
    base_counts = blocks.count(model, window=window, channels=n_channels)
    metrics: dict[str, float] = {}
    pretrain_curves: list[dict[str, Any]] = []
    setup_seconds = 0.0
    if spec.pretrain is not None:
        loaded = pretrain.for_run(spec, model, data)
        pretrain_curves = loaded.curves
        setup_seconds += loaded.load_seconds
        if not loaded.cached:
            metrics["pretrain_seconds"] = loaded.train_seconds
        if loaded.head_kept:  # the source model as is, on the target's test part
            before = evaluate(model, X_test, y_test, n_classes, phase="source model on test")
            metrics["source_macro_f1"] = before["macro_f1"]
            metrics["source_accuracy"] = before["accuracy"]
    setting = spec.training.get("bn_policy") or "update"
    _warm_up(spec, model, setting)
    started = time.perf_counter()
    model = blocks.adapt(model, spec.method, bn_policy=setting, **spec.method_params)
    policy = blocks.adapted_info(model).bn_policy
    model.to(device)
    setup_seconds += time.perf_counter() - started
    adapted_counts = blocks.count(model, window=window, channels=n_channels)
    bn_frozen = policy == "frozen"

    listener = _epoch_listener
    gpu = _memory_source.applies(device)
    if gpu:
        _memory_source.reset_peak(device)
    energy = EnergyMeter(device).start()
    with memory.training_peak(enabled=not gpu) as cpu_peak:  # training alone, on the CPU
        result = fit(
            model,
            (X_train, y_train),
            (X_val, y_val),
            TrainConfig.from_dict(spec.training),
            n_classes=n_classes,
            bn_frozen=bn_frozen,
            seed=spec.seed,
            on_epoch=on_epoch or ((lambda row: listener(spec, row)) if listener else None),
        )
    energy.stop()
    if gpu:  # training alone: read before evaluation touches the device
        metrics.update(_memory_source.read(device))
    metrics.update(cpu_peak)
    test = evaluate(model, X_test, y_test, n_classes, phase="test evaluation")
    deployed = blocks.merge(model)
    merged_test = evaluate(deployed, X_test, y_test, n_classes, phase="merged model on test")
    merged_counts = blocks.count(deployed, window=window, channels=n_channels)

    trainable = adapted_counts["trainable"]
    epochs_run = len(result.curves)
    metrics.update({
        "accuracy": test["accuracy"],
        "balanced_accuracy": test["balanced_accuracy"],
        "macro_f1": test["macro_f1"],
        "macro_f1_seen": macro_f1_seen(test["confusion"], np.unique(windows.y[data.labelled])),
        "macro_f1_all_classes": test["macro_f1_all_classes"],
        "weighted_f1": test["weighted_f1"],
        "test_loss": test["loss"],
        "merged_macro_f1": merged_test["macro_f1"],
        "params": base_counts["params"],
        "trainable_params": trainable,
        **trainable_shares(base_counts, adapted_counts),
        "trainable_params_no_head": adapted_counts["trainable_no_head"],
        "macs": base_counts["macs"],
        "train_forward_macs": adapted_counts["macs"],  # the model as trained (time-to-target)
        "merged_params": merged_counts["params"],
        "merged_macs": merged_counts["macs"],
        "setup_seconds": setup_seconds,
        "fit_seconds": result.fit_seconds,
        "epoch_seconds": result.fit_seconds / max(1, epochs_run),
        "epochs": epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_f1": max((r["val_f1"] for r in result.curves), default=0.0),
        "train_windows": len(data.labelled),
        "val_windows": len(data.val),
        "test_windows": len(data.test),
        "rate_hz": windows.rate_hz,
        "window_samples": window,
    })
    metrics.update(_measurements(spec, model, deployed, X_train[: spec.training["batch_size"]],
                                 bn_frozen, device))
    metrics["peak_rss_mb"] = memory.peak_rss_bytes() / 2**20
    metrics["peak_rss_over_start_mb"] = max(0, memory.peak_rss_bytes() - rss_baseline) / 2**20
    curves = [{"stage": "train", **row} for row in result.curves]
    curves += [{"stage": "pretrain", **row} for row in pretrain_curves]
    details = {
        "classes": list(windows.classes),
        "per_class_f1": test["per_class_f1"],
        "confusion": test["confusion"],
        "fold": fold.name,
        "bn_policy": policy,
        "device": str(device),
        "test_subjects": sorted(int(s) for s in np.unique(windows.subject[data.test])),
        "val_subjects": sorted(int(s) for s in np.unique(windows.subject[data.val])),
        **getattr(fold, "notes", {}),
    }
    if spec.pretrain is not None:
        details["pretrain_key"] = loaded.key
        details["pretrain_subjects"] = loaded.subjects
    metrics.update(energy.metrics())
    details.update(energy.details())
    check_metrics(metrics, "stored metrics")  # before any artefact is kept
    kept_metrics, kept = save_for_run(spec, model, deployed, data, X_test)  # opt-in artefacts
    check_metrics(kept_metrics, "artefact metrics")
    metrics.update(kept_metrics)
    details.update(kept)
    return metrics, curves, details


def _measurements(spec: RunSpec, model, deployed, example: torch.Tensor, bn_frozen: bool,
                  device: torch.device) -> dict[str, float]:
    """Sizes, analytic memory and latency stored with every run."""
    from harbench.measure import memory, timing

    out: dict[str, float] = {}
    example = example.to(device)
    breakdown = memory.training_memory_breakdown(model, example, bn_frozen=bn_frozen)
    out.update({f"mem_{k}_bytes": float(v) for k, v in breakdown.items()})
    method = plugins.get("methods", spec.method)
    out["adapter_bytes"] = float(memory.adapter_bytes(method.adapter_state(model)))
    if spec.training.get("measure_latency"):
        window, channels = example.shape[1], example.shape[2]
        for name, m in (("latency", model), ("merged_latency", deployed)):
            lat = timing.latency(m, window=window, channels=channels)
            out.update({f"{name}_b{b}_ms": v * 1000 for b, v in lat.items()})
    return out
