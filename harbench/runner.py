"""run_one(RunSpec) -> RunResult: a pure function of its spec; it never writes the database."""

from __future__ import annotations

import os
import platform
import random
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
from harbench.suite import RunSpec
from harbench.train import DivergedError, TrainConfig, evaluate, fit, to_tensors

_epoch_listener: Callable[[RunSpec, dict[str, float]], None] | None = None


def set_epoch_listener(listener: Callable[[RunSpec, dict[str, float]], None] | None) -> None:
    """Receive each epoch's curve row of runs executed in this process (for progress display)."""
    global _epoch_listener
    _epoch_listener = listener


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


def environment() -> dict[str, str]:
    """Versions and device, stored with every run."""
    from harbench import __version__

    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda:{torch.cuda.get_device_name(0)}"
    return {
        "harbench": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device,
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


def run_one(spec: RunSpec) -> RunResult:
    """Execute one cell; any exception becomes a failed result carrying its error text."""
    started = _now()
    torch.set_num_threads(run_threads())
    try:
        metrics, curves, details = _execute(spec)
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


def _execute(spec: RunSpec) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, Any]]:
    from harbench.measure import memory

    seed_everything(spec.seed)
    memory.reset_peak_rss()  # the peak from here on is this run's own
    rss_baseline = memory.peak_rss_bytes()
    windows = load_windows(spec.dataset, **spec.window)
    folds = make_folds(windows, spec.protocol)
    if spec.fold >= len(folds):
        raise HarbenchError(
            f"fold {spec.fold} does not exist: the protocol yields {len(folds)} folds"
        )
    fold = folds[spec.fold]
    training = spec.training
    train_idx, val_idx = validation_split(windows, fold.train, training["val_fraction"], spec.seed)
    labelled_idx = train_idx
    if training.get("budget"):
        labelled_idx = label_budget(windows, train_idx, seed=spec.seed, **training["budget"])
    if len(labelled_idx) == 0 or len(val_idx) == 0 or len(fold.test) == 0:
        raise HarbenchError(f"fold {fold.name} leaves an empty train, validation or test set")

    norm = ZScore.fit(np.asarray(windows.X[train_idx]))
    X_train, y_train = to_tensors(
        norm.apply(np.asarray(windows.X[labelled_idx])), windows.y[labelled_idx]
    )
    X_val, y_val = to_tensors(norm.apply(np.asarray(windows.X[val_idx])), windows.y[val_idx])
    X_test, y_test = to_tensors(norm.apply(np.asarray(windows.X[fold.test])), windows.y[fold.test])
    n_classes, n_channels, window = len(windows.classes), X_train.shape[2], X_train.shape[1]

    model = api.build_model(
        spec.model, channels=n_channels, window=window, classes=n_classes, **spec.model_params
    )
    pretrain.strip_pretraining(model)  # a pretraining-only decoder is not part of the model
    base_counts = api.count(model, window=window, channels=n_channels)
    pretrain_curves: list[dict[str, Any]] = []
    if spec.pretrain is not None:
        pretrain_curves = _load_pretrained(
            spec, model, norm.apply(np.asarray(windows.X[train_idx]))
        )
    model = api.adapt(model, spec.method, **spec.method_params)
    model.to(run_device())
    adapted_counts = api.count(model, window=window, channels=n_channels)
    bn_frozen = getattr(model, "harbench_bn_policy", "update") == "frozen"

    listener = _epoch_listener
    result = fit(
        model,
        (X_train, y_train),
        (X_val, y_val),
        TrainConfig.from_dict(training),
        n_classes=n_classes,
        bn_frozen=bn_frozen,
        seed=spec.seed,
        on_epoch=(lambda row: listener(spec, row)) if listener else None,
    )
    test = evaluate(model, X_test, y_test, n_classes)
    deployed = api.merge(model)
    merged_test = evaluate(deployed, X_test, y_test, n_classes)
    merged_counts = api.count(deployed, window=window, channels=n_channels)

    epochs_run = len(result.curves)
    metrics: dict[str, float] = {
        "accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "weighted_f1": test["weighted_f1"],
        "test_loss": test["loss"],
        "merged_macro_f1": merged_test["macro_f1"],
        "params": base_counts["params"],
        "trainable_params": adapted_counts["trainable"],
        "trainable_share": adapted_counts["trainable"] / max(1, base_counts["params"]),
        "macs": base_counts["macs"],
        "merged_params": merged_counts["params"],
        "merged_macs": merged_counts["macs"],
        "fit_seconds": result.fit_seconds,
        "epoch_seconds": result.fit_seconds / max(1, epochs_run),
        "epochs": epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_f1": max((r["val_f1"] for r in result.curves), default=0.0),
        "train_windows": len(labelled_idx),
        "val_windows": len(val_idx),
        "test_windows": len(fold.test),
        "rate_hz": windows.rate_hz,
        "window_samples": window,
    }
    metrics.update(
        _measurements(spec, model, deployed, result.curves, X_train[: spec.training["batch_size"]])
    )
    metrics["peak_rss_mb"] = memory.peak_rss_bytes() / 2**20
    metrics["peak_rss_over_start_mb"] = max(0, memory.peak_rss_bytes() - rss_baseline) / 2**20
    curves = [{"stage": "train", **row} for row in result.curves]
    curves += [{"stage": "pretrain", **row} for row in pretrain_curves]
    details = {
        "classes": list(windows.classes),
        "per_class_f1": test["per_class_f1"],
        "confusion": test["confusion"],
        "fold": fold.name,
        "bn_policy": getattr(model, "harbench_bn_policy", ""),
        "test_subjects": sorted(int(s) for s in np.unique(windows.subject[fold.test])),
        "val_subjects": sorted(int(s) for s in np.unique(windows.subject[val_idx])),
    }
    return metrics, curves, details


def _load_pretrained(spec: RunSpec, model, X_unlabelled: np.ndarray) -> list[dict[str, Any]]:
    """Load (or train once and cache) the self-supervised checkpoint the spec's stage names."""
    state, curves = pretrain.for_run(spec, model, X_unlabelled)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise HarbenchError(f"pretrained checkpoint has unexpected keys: {unexpected[:5]}")
    return curves


def _measurements(
    spec: RunSpec, model, deployed, curves, example: torch.Tensor
) -> dict[str, float]:
    """Sizes, memory and timing measures stored with every run."""
    from harbench.measure import memory, timing

    out: dict[str, float] = {}
    example = example.to(run_device())
    breakdown = memory.training_memory_breakdown(
        model, example, bn_frozen=getattr(model, "harbench_bn_policy", "") == "frozen"
    )
    out.update({f"mem_{k}_bytes": float(v) for k, v in breakdown.items()})
    method = plugins.get("methods", spec.method)
    out["adapter_bytes"] = float(memory.adapter_bytes(method.adapter_state(model)))
    if torch.cuda.is_available():
        out["cuda_peak_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    target = timing.time_to_target(curves)
    if target.get("epochs") is not None:
        out["epochs_to_target"] = float(target["epochs"])
    if target.get("seconds") is not None:
        out["time_to_target_s"] = float(target["seconds"])
    if spec.training.get("measure_latency"):
        window, channels = example.shape[1], example.shape[2]
        for name, m in (("latency", model), ("merged_latency", deployed)):
            lat = timing.latency(m, window=window, channels=channels)
            out.update({f"{name}_b{b}_ms": v * 1000 for b, v in lat.items()})
    return out
