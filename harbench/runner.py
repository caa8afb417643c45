"""run_one(RunSpec, emit) -> RunResult: a pure function of its spec; it never writes the database.

A run is a sequence of named steps, each a function of this module, in this order:
``seed_everything`` -> ``load_data`` (windows, fold, parts, tensors) -> ``build`` (the backbone,
pretraining-only modules dropped) -> ``load_pretrained`` (the stage's checkpoint, and the source
model's score when its head is kept) -> ``warm_up`` and ``adapt`` (the method) -> ``train``
(``harbench.train.fit``; each epoch is emitted as an ``EpochEnded`` event) ->
``evaluate_and_merge`` (the adapted model, then the merged one) -> ``count`` (parameters, MACs)
-> ``result_metrics`` and ``measurements`` (the stored numbers) -> ``describe`` (the details).
"""

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

from harbench import blocks, codeprint, forgetting, plugins, pretrain
from harbench import events as ev
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

_memory_source: MemorySource = TorchCudaMemory()


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


def run_one(spec: RunSpec, emit: Callable[[Any], None] | None = None) -> RunResult:
    """Execute one cell; any exception becomes a failed result carrying its error text.

    ``emit`` receives the run's events (:class:`harbench.events.EpochEnded` after each training
    epoch); an executor carries them to the coordinator.
    """
    started = _now()
    code = codeprint.for_spec_or_empty(spec)  # the code as loaded, before the run
    torch.set_num_threads(run_threads())
    try:
        metrics, curves, details = _execute(spec, emit or ev.discard)
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


def warm_up(spec: RunSpec, model, setting: str) -> None:
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


@dataclass
class Tensors:
    """The run's three parts as tensors, and the shapes the model is built for."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    classes: int
    channels: int
    window: int


def load_data(spec: RunSpec) -> tuple[Any, Tensors]:
    """The run's data (:func:`harbench.rundata.prepare`) and its normalised parts as tensors."""
    data = prepare(spec)
    y = data.windows.y
    train = to_tensors(data.normalised(data.labelled), y[data.labelled])
    val = to_tensors(data.normalised(data.val), y[data.val])
    test = to_tensors(data.normalised(data.test), y[data.test])
    shape = train[0].shape
    return data, Tensors(train, val, test, len(data.windows.classes), shape[2], shape[1])


def build(spec: RunSpec, t: Tensors):
    """The freshly built backbone, without its pretraining-only modules (a decoder)."""
    model = blocks.build_model(
        spec.model, channels=t.channels, window=t.window, classes=t.classes, **spec.model_params
    )
    return pretrain.strip_pretraining(model)


def count(model, t: Tensors) -> dict[str, float]:
    """Parameters (total, trainable, without the head) and MACs of ``model``."""
    return blocks.count(model, window=t.window, channels=t.channels)


@dataclass
class Setup:
    """What preparing the model cost and gave: seconds outside training, the stage loaded."""

    seconds: float = 0.0
    loaded: Any = None  # the pretraining stage (pretrain.Loaded), if any
    metrics: dict[str, float] = field(default_factory=dict)
    held_out: Any = None  # held-out source windows (tensors) scored for forgetting, if any


def load_pretrained(spec: RunSpec, model, data: Any, t: Tensors, setup: Setup,
                    device: torch.device | None = None) -> None:
    """Load the stage's checkpoint into ``model`` (training it on a miss); with its head kept,
    score the source model as is on the target's test part and on the held-out source subjects
    (:mod:`harbench.forgetting`), on the run's ``device`` like the adapted model (so a method
    that changes nothing scores exactly the same before and after)."""
    if spec.pretrain is None:
        return
    loaded = setup.loaded = pretrain.for_run(spec, model, data)
    setup.seconds += loaded.load_seconds
    if not loaded.cached:
        setup.metrics["pretrain_seconds"] = loaded.train_seconds
    if loaded.head_kept:
        source = _on_device(model, device)
        before = evaluate(source, *t.test, t.classes, phase="source model on test")
        setup.metrics["source_macro_f1"] = before["macro_f1"]
        setup.metrics["source_accuracy"] = before["accuracy"]
        setup.held_out = forgetting.held_out_part(data)
        setup.metrics.update(forgetting.source_score(source, setup.held_out, t.classes))


def _on_device(model, device: torch.device | None):
    """``model`` itself when it is on ``device`` (or no device is given), else a copy there."""
    from harbench.train import model_device

    if device is None or model_device(model) == device:
        return model
    import copy

    return copy.deepcopy(model).to(device)


def adapt(spec: RunSpec, model, device: torch.device, setup: Setup):
    """The method's model on the run's device (its setup time counted); (model, bn policy).
    A method that trains nothing (``trains`` False) keeps its own BatchNorm policy."""
    setting = spec.training.get("bn_policy") or "update"
    if not trains(spec):
        setting = "method"
    warm_up(spec, model, setting)
    started = time.perf_counter()
    model = blocks.adapt(model, spec.method, bn_policy=setting, **spec.method_params)
    policy = blocks.adapted_info(model).bn_policy
    model.to(device)
    setup.seconds += time.perf_counter() - started
    return model, policy


def train(spec: RunSpec, model, t: Tensors, bn_frozen: bool, device: torch.device,
          emit: Callable[[Any], None]) -> tuple[Any, dict[str, float], EnergyMeter]:
    """``harbench.train.fit`` on the labelled part, early-stopped on validation; each epoch is
    emitted as an event. Returns the fit's result, the training peak memory (the GPU's on one,
    else the CPU's) and the energy meter that ran during training."""
    trained = [0.0]

    def on_epoch(row: dict[str, float]) -> None:
        trained[0] += float(row.get("seconds", 0.0))
        emit(ev.EpochEnded(spec.run_id, int(row["epoch"]), float(row["train_loss"]),
                           float(row["val_f1"]), trained[0]))

    check_trainable(spec, model)
    gpu = _memory_source.applies(device)
    if gpu:
        _memory_source.reset_peak(device)
    energy = EnergyMeter(device).start()
    from harbench.measure import memory

    with memory.training_peak(enabled=not gpu) as cpu_peak:  # training alone, on the CPU
        started = time.perf_counter()
        blocks.calibrate(model, t.train[0])  # the training part only (AdaBN's statistics)
        calibrated = time.perf_counter() - started
        result = fit(model, t.train, t.val, TrainConfig.from_dict(spec.training),
                     n_classes=t.classes, bn_frozen=bn_frozen, seed=spec.seed, on_epoch=on_epoch)
        result.fit_seconds += calibrated
    energy.stop()
    peak = _memory_source.read(device) if gpu else {}  # before evaluation touches the device
    peak.update(cpu_peak)
    return result, peak, energy


def trains(spec: RunSpec) -> bool:
    """Whether the run's method takes gradient steps (``MethodPlugin.trains``)."""
    return bool(getattr(plugins.get("methods", spec.method), "trains", True))


def check_trainable(spec: RunSpec, model) -> None:
    """A method that trains leaves a trainable parameter; one that does not leaves none."""
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trains(spec) and n == 0:
        raise HarbenchError(
            f"method {spec.method!r} left no trainable parameter; a method that takes no "
            "gradient step declares trains = False"
        )
    if not trains(spec) and n:
        raise HarbenchError(
            f"method {spec.method!r} declares trains = False but left {n} trainable parameters"
        )


def evaluate_and_merge(model, t: Tensors) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """Scores of the adapted model on the test part, the deployable (merged/fused) model, and
    its scores on the same part."""
    test = evaluate(model, *t.test, t.classes, phase="test evaluation")
    deployed = blocks.merge(model)
    merged_test = evaluate(deployed, *t.test, t.classes, phase="merged model on test")
    return test, deployed, merged_test


def result_metrics(test: dict[str, Any], merged_test: dict[str, Any], counts: dict[str, dict],
                   result: Any, data: Any, t: Tensors, setup_seconds: float) -> dict[str, float]:
    """The stored numbers of a finished run (scores, sizes, times, part sizes)."""
    base, adapted, merged = counts["base"], counts["adapted"], counts["merged"]
    epochs_run = len(result.curves)
    windows = data.windows
    return {
        "accuracy": test["accuracy"],
        "balanced_accuracy": test["balanced_accuracy"],
        "macro_f1": test["macro_f1"],
        "macro_f1_seen": macro_f1_seen(test["confusion"], np.unique(windows.y[data.labelled])),
        "macro_f1_all_classes": test["macro_f1_all_classes"],
        "weighted_f1": test["weighted_f1"],
        "test_loss": test["loss"],
        "merged_macro_f1": merged_test["macro_f1"],
        "params": base["params"],
        "trainable_params": adapted["trainable"],
        **trainable_shares(base, adapted),
        "trainable_params_no_head": adapted["trainable_no_head"],
        "macs": base["macs"],
        "train_forward_macs": adapted["macs"],  # the model as trained (time-to-target)
        "merged_params": merged["params"],
        "merged_macs": merged["macs"],
        "setup_seconds": setup_seconds,
        "fit_seconds": result.fit_seconds,
        "epochs": epochs_run,
        **({"epoch_seconds": result.fit_seconds / epochs_run,  # none without a training epoch
            "best_epoch": result.best_epoch,
            "best_val_f1": max(r["val_f1"] for r in result.curves)} if epochs_run else {}),
        "train_windows": len(data.labelled),
        "val_windows": len(data.val),
        "test_windows": len(data.test),
        "rate_hz": windows.rate_hz,
        "window_samples": t.window,
    }


def describe(spec: RunSpec, data: Any, test: dict[str, Any], policy: str,
             device: torch.device, loaded: Any) -> dict[str, Any]:
    """The run's details: classes, per-class F1, confusion, fold, subjects, the stage used."""
    windows, fold = data.windows, data.fold
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
    if loaded is not None:
        details["pretrain_key"] = loaded.key
        details["pretrain_subjects"] = loaded.subjects
    return details


def _execute(
    spec: RunSpec, emit: Callable[[Any], None]
) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, Any]]:
    """The steps of one run, in order (see the module's docstring)."""
    from harbench.measure import memory

    seed_everything(spec.seed)
    device = run_device()
    memory.reset_peak_rss()  # the peak from here on is this run's own
    rss_baseline = memory.peak_rss_bytes()
    data, t = load_data(spec)
    model = build(spec, t)
    counts = {"base": count(model, t)}
    setup = Setup()
    load_pretrained(spec, model, data, t, setup, device)
    model, policy = adapt(spec, model, device, setup)
    counts["adapted"] = count(model, t)
    bn_frozen = policy == "frozen"
    result, training_peak, energy = train(spec, model, t, bn_frozen, device, emit)
    test, deployed, merged_test = evaluate_and_merge(model, t)
    counts["merged"] = count(deployed, t)
    setup.metrics.update(forgetting.adapted_score(deployed, setup.held_out, t.classes,
                                                  setup.metrics))

    metrics = {**setup.metrics, **training_peak}
    metrics.update(result_metrics(test, merged_test, counts, result, data, t, setup.seconds))
    metrics.update(measurements(spec, model, deployed, t.train[0][: spec.training["batch_size"]],
                                bn_frozen, device))
    metrics["peak_rss_mb"] = memory.peak_rss_bytes() / 2**20
    metrics["peak_rss_over_start_mb"] = max(0, memory.peak_rss_bytes() - rss_baseline) / 2**20
    curves = [{"stage": "train", **row} for row in result.curves]
    curves += [{"stage": "pretrain", **row} for row in (setup.loaded.curves if setup.loaded
                                                         else [])]
    details = describe(spec, data, test, policy, device, setup.loaded)
    metrics.update(energy.metrics())
    details.update(energy.details())
    check_metrics(metrics, "stored metrics")  # before any artefact is kept
    kept_metrics, kept = save_for_run(spec, model, deployed, data, t.test[0])  # opt-in artefacts
    check_metrics(kept_metrics, "artefact metrics")
    metrics.update(kept_metrics)
    details.update(kept)
    return metrics, curves, details


def measurements(spec: RunSpec, model, deployed, example: torch.Tensor, bn_frozen: bool,
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
