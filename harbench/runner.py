"""run_one(RunSpec) -> RunResult: a pure function of its spec; it never writes the database."""

from __future__ import annotations

import os
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

from harbench import api, plugins, pretrain
from harbench.contracts import HarbenchError
from harbench.data.load import load_windows
from harbench.data.normalise import ZScore
from harbench.data.protocols import label_budget, make_folds, validation_split
from harbench.data.windows import Windows
from harbench.measure.counting import trainable_shares
from harbench.measure.gpu import MemorySource, TorchCudaMemory
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
        env=environment(),
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


# ---- the run's data ----------------------------------------------------------------------------


@dataclass
class RunData:
    """The windows of one run and which of them train, validate, test and pretrain.

    ``labelled`` and ``val`` obey the label budget; ``source`` are the windows a pretraining
    stage may use (the protocol's source subjects, else ``train``: never a test or validation
    subject); ``norm`` is fitted on ``source``.
    """

    windows: Windows
    fold: Any
    train: np.ndarray
    val: np.ndarray
    labelled: np.ndarray
    test: np.ndarray
    source: np.ndarray
    norm: ZScore

    def normalised(self, index: np.ndarray) -> np.ndarray:
        return self.norm.apply(np.asarray(self.windows.X[index]))


def _windows(spec: RunSpec) -> Windows:
    subjects = getattr(spec, "subjects", None)
    if subjects:
        return load_windows(spec.dataset, subjects=subjects, **spec.window)
    return load_windows(spec.dataset, **spec.window)


def prepare(spec: RunSpec) -> RunData:
    """Split the spec's dataset into the run's parts (no training; windows come from the cache)."""
    windows = _windows(spec)
    folds = make_folds(windows, spec.protocol)
    if spec.fold >= len(folds):
        raise HarbenchError(
            f"fold {spec.fold} does not exist: the protocol yields {len(folds)} folds"
        )
    fold = folds[spec.fold]
    training = spec.training
    train_idx, val_idx = validation_split(windows, fold.train, training["val_fraction"], spec.seed)
    labelled_idx = train_idx
    budget = training.get("budget")
    if budget:
        labelled_idx = label_budget(windows, train_idx, seed=spec.seed, **budget)
        # the validation set that drives early stopping gets the same per-class budget
        val_idx = label_budget(windows, val_idx, seed=spec.seed + 1, **budget)
    if len(labelled_idx) == 0 or len(val_idx) == 0 or len(fold.test) == 0:
        raise HarbenchError(f"fold {fold.name} leaves an empty train, validation or test set")
    source = getattr(fold, "source", None)
    has_source = source is not None and len(source) > 0
    source_idx = np.asarray(source) if has_source else train_idx
    norm = ZScore.fit(np.asarray(windows.X[source_idx]))
    return RunData(windows, fold, train_idx, val_idx, labelled_idx, np.asarray(fold.test),
                   source_idx, norm)


def bn_policy(spec: RunSpec) -> str:
    """The run's BatchNorm policy: the training setting, "method" meaning the method's own."""
    return api.resolve_bn_policy(spec.training.get("bn_policy") or "update", spec.method)


_warmed: set[str] = set()


def _warm_up(spec: RunSpec, model, setting: str) -> None:
    """Adapt a copy once per method and process, so that setup time leaves out the one-off
    imports a method makes on first use (peft, tensorly): those are not the method's cost."""
    if spec.method in _warmed:
        return
    import copy

    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):  # the run's random draws stay as without warm-up
        api.adapt(copy.deepcopy(model), spec.method, bn_policy=setting, **spec.method_params)
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

    model = api.build_model(
        spec.model, channels=n_channels, window=window, classes=n_classes, **spec.model_params
    )
    pretrain.strip_pretraining(model)  # a pretraining-only decoder is not part of the model
    base_counts = api.count(model, window=window, channels=n_channels)
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
            before = evaluate(model, X_test, y_test, n_classes)
            metrics["source_macro_f1"] = before["macro_f1"]
            metrics["source_accuracy"] = before["accuracy"]
    setting = spec.training.get("bn_policy") or "update"
    _warm_up(spec, model, setting)
    started = time.perf_counter()
    model = api.adapt(model, spec.method, bn_policy=setting, **spec.method_params)
    policy = api.adapted_info(model).bn_policy
    model.to(device)
    setup_seconds += time.perf_counter() - started
    adapted_counts = api.count(model, window=window, channels=n_channels)
    bn_frozen = policy == "frozen"

    listener = _epoch_listener
    gpu = _memory_source.applies(device)
    if gpu:
        _memory_source.reset_peak(device)
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
    if gpu:  # training alone: read before evaluation touches the device
        metrics.update(_memory_source.read(device))
    test = evaluate(model, X_test, y_test, n_classes)
    deployed = api.merge(model)
    merged_test = evaluate(deployed, X_test, y_test, n_classes)
    merged_counts = api.count(deployed, window=window, channels=n_channels)

    trainable = adapted_counts["trainable"]
    epochs_run = len(result.curves)
    metrics.update({
        "accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "macro_f1_all_classes": test["macro_f1_all_classes"],
        "weighted_f1": test["weighted_f1"],
        "test_loss": test["loss"],
        "merged_macro_f1": merged_test["macro_f1"],
        "params": base_counts["params"],
        "trainable_params": trainable,
        **trainable_shares(base_counts, adapted_counts),
        "trainable_params_no_head": adapted_counts["trainable_no_head"],
        "macs": base_counts["macs"],
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
    }
    if spec.pretrain is not None:
        details["pretrain_key"] = loaded.key
        details["pretrain_subjects"] = loaded.subjects
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
