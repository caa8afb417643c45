"""The pretraining stage (self-supervised MAE or supervised on source data) and its cache.

Objectives:

- ``mae``: self-supervised; the backbone exposes ``pretrain_loss(x, mask_ratio) -> scalar``
  (x float32 [B, T, C]); submodules that serve pretraining only (a decoder) are listed in the
  model's ``pretrain_modules`` attribute. Trained on the run's training windows (the source
  subjects under ``subject_adaptation``) or on the stage's ``datasets``.
- ``supervised``: any backbone, trained with labels (cross-entropy, a validation split of source
  subjects, early stopping) on the protocol's source data: the fold's ``source`` subjects under
  ``subject_adaptation``, else the run's training subjects (never its test or validation
  subjects), or the stage's other ``datasets`` under LODO (class names pooled across datasets).
  The run loads it and keeps the head when the classes are its own dataset's; otherwise the head
  is re-created for the target's classes.

The stage as a unit of the plan: ``stage_key(spec)`` (cheap: windows come from the cache, nothing
trains) names the checkpoint a run needs; ``ensure_stage(spec)`` trains and caches it if missing;
``for_run(spec, model, data)`` loads it into the run's model (training it first on a miss).

Checkpoints live under ``<HARBENCH_CACHE>/pretrain/<key>/`` (``weights.pt`` read with
``weights_only=True``, ``curves.json``, ``stage.json``), the key hashing everything that shaped
them: model and params, channels and window, the data (digest of the windows or the datasets'
names and loader versions), the objective's params and the seed (the stage's, or the run's when
the stage's is null). Pretraining runs on the run's device (``HARBENCH_DEVICE``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from harbench.contracts import HarbenchError

SELF_SUPERVISED = {"mae": "pretrain_loss"}
OBJECTIVES = (*SELF_SUPERVISED, "supervised")
TRAINING_KEYS = ("objective", "mask_ratio", "epochs", "batch_size", "lr", "weight_decay", "seed")
SUPERVISED_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "seed", "patience",
                   "val_fraction")
FORMAT = 1  # bump when the stored checkpoint layout changes
_OTHER_DATASET_OFFSET = 1_000_000  # subject ids of other datasets are shifted by k * this


def _model_name(model: nn.Module) -> str:
    from harbench.contracts import INFO_ATTRIBUTE, model_info

    return model_info(model).name if hasattr(model, INFO_ATTRIBUTE) else type(model).__name__


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise HarbenchError(f"unknown pretraining objective {objective!r}; known: "
                            f"{', '.join(sorted(OBJECTIVES))}")


def _loss_fn(model: nn.Module, objective: str) -> Callable[..., torch.Tensor]:
    _check_objective(objective)
    if objective not in SELF_SUPERVISED:
        raise HarbenchError(f"objective {objective!r} is not self-supervised")
    fn = getattr(model, SELF_SUPERVISED[objective], None)
    if not callable(fn):
        raise HarbenchError(
            f"model {_model_name(model)!r} cannot be pretrained with objective {objective!r}: it "
            f"has no {SELF_SUPERVISED[objective]}(x, mask_ratio) method (use a backbone such as "
            "'mae', or objective: supervised)"
        )
    return fn


def _check_data(X: Any) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.ndim != 3 or len(X) == 0:
        shape = getattr(X, "shape", None)
        raise HarbenchError(f"pretraining data must be a non-empty array [N, T, C], got {shape}")
    return np.ascontiguousarray(X, dtype=np.float32)


def _head_name(model: nn.Module) -> str:
    """The classifier head's name (a model built outside ``build_model``: "head")."""
    from harbench.contracts import INFO_ATTRIBUTE, model_info

    return model_info(model).head if hasattr(model, INFO_ATTRIBUTE) else "head"


def _under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def model_state(model: nn.Module, *, with_head: bool) -> dict[str, torch.Tensor]:
    """The CPU state dict without the pretraining-only modules (and the head unless asked)."""
    excluded = tuple(getattr(model, "pretrain_modules", ()))
    if not with_head:
        excluded += (_head_name(model),)
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if not _under(k, excluded)}


def encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict minus the head and the pretraining-only modules, cloned on the CPU."""
    return model_state(model, with_head=False)


def strip_pretraining(model: nn.Module) -> nn.Module:
    """Drop the modules only pretraining uses (a decoder); returns the same model."""
    for name in getattr(model, "pretrain_modules", ()):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)
    return model


def _device(device: str | torch.device | None) -> torch.device:
    """The given device, else the runs' device (``HARBENCH_DEVICE``, default the CPU)."""
    if device is not None:
        return torch.device(device)
    from harbench.devices import run_device

    return run_device()


def pretrain(
    model: nn.Module,
    X: np.ndarray,
    *,
    objective: str = "mae",
    mask_ratio: float = 0.75,
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
    """Self-supervised training of ``model`` on X; returns (encoder state, per-epoch curves).

    X is float32 [N, T, C], normalised like the fine-tuning data. AdamW with a cosine decay;
    each curve row is ``{"epoch", "loss", "seconds"}``. Deterministic on the CPU for a given
    seed; the caller's RNG is untouched.
    """
    loss_fn = _loss_fn(model, objective)
    X = _check_data(X)
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise HarbenchError(f"pretraining needs epochs >= 1, batch_size >= 1 and lr > 0, got "
                            f"{epochs}, {batch_size} and {lr}")
    dev = _device(device)
    home = next((p.device for p in model.parameters()), torch.device("cpu"))
    data = torch.from_numpy(X)
    steps = epochs * math.ceil(len(X) / batch_size)
    curves: list[dict[str, float]] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.to(dev).train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
        )
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            order = torch.randperm(len(X))
            total, seen = 0.0, 0
            for start in range(0, len(X), batch_size):
                batch = data[order[start:start + batch_size]].to(dev)
                loss = loss_fn(batch, mask_ratio)
                if not torch.isfinite(loss):
                    raise HarbenchError(
                        f"pretraining of {_model_name(model)!r} diverged at epoch {epoch} "
                        f"(loss {loss.item()}); lower lr (now {lr})"
                    )
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                total += loss.item() * len(batch)
                seen += len(batch)
            curves.append({"epoch": epoch, "loss": total / seen,
                           "seconds": time.perf_counter() - started})
    model.to(home)
    return encoder_state(model), curves


def supervised(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    subjects: np.ndarray,
    *,
    n_classes: int,
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    patience: int = 5,
    val_fraction: float = 0.2,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
    """Supervised training of ``model`` on labelled source windows; (state with head, curves).

    Whole subjects (about ``val_fraction`` of them) are held out for validation and early
    stopping (best epoch restored). The caller's RNG is untouched.
    """
    from harbench.data.protocols import validation_split
    from harbench.train import TrainConfig, fit, to_tensors

    X = _check_data(X)
    y, subjects = np.asarray(y, dtype=np.int64), np.asarray(subjects, dtype=np.int64)
    if not (len(X) == len(y) == len(subjects)):
        raise HarbenchError("supervised pretraining needs one label and subject per window")
    everything = np.arange(len(X))
    train, val = validation_split(SimpleNamespace(subject=subjects), everything, val_fraction,
                                  seed)
    dev = _device(device)
    home = next((p.device for p in model.parameters()), torch.device("cpu"))
    config = TrainConfig.from_dict({"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                    "weight_decay": weight_decay, "patience": patience})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.to(dev)
        result = fit(model, to_tensors(X[train], y[train]), to_tensors(X[val], y[val]), config,
                     n_classes=n_classes, seed=seed)
    model.to(home)
    return model_state(model, with_head=True), result.curves


@torch.no_grad()
def reconstruction_loss(model: nn.Module, X: np.ndarray, *, mask_ratio: float = 0.75,
                        seed: int = 0, batch_size: int = 256, objective: str = "mae") -> float:
    """Mean pretraining loss over X in eval mode, with masks fixed by ``seed``."""
    loss_fn = _loss_fn(model, objective)
    X = _check_data(X)
    was_training = model.training
    model.eval()
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    total = 0.0
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, len(X), batch_size):
                batch = torch.from_numpy(X[start:start + batch_size]).to(dev)
                total += loss_fn(batch, mask_ratio).item() * len(batch)
    finally:
        model.train(was_training)
    return total / len(X)


# ---- the cache ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-able, canonical form of a stage value (numpy scalars/arrays, tuples, sets, paths)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def checkpoint_key(stage: dict[str, Any]) -> str:
    """A stable 20-hex-digit hash of everything that shaped a checkpoint."""
    if not isinstance(stage, dict):
        raise HarbenchError(f"a pretraining stage must be a mapping, got {type(stage).__name__}")
    text = json.dumps({"format": FORMAT, **_plain(stage)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def data_digest(X: np.ndarray) -> str:
    """sha256 of an array's shape, dtype and bytes (identifies the pretraining data exactly)."""
    X = np.ascontiguousarray(X)
    digest = hashlib.sha256(f"{X.shape}|{X.dtype}".encode())
    digest.update(memoryview(X).cast("B"))
    return digest.hexdigest()[:20]


@dataclass
class SourceData:
    """Labelled pretraining windows: X [N, T, C], y [N] into ``classes``, subject ids [N]."""

    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    classes: tuple[str, ...]


@dataclass
class Pretrained:
    state: dict[str, torch.Tensor]
    curves: list[dict[str, float]]
    key: str
    folder: Path
    cached: bool  # True when it came from the cache without training
    seconds: float = 0.0  # training time (0 when cached) or loading time


def default_dir() -> Path:
    from harbench.data.cache import default_cache_dir

    return default_cache_dir() / "pretrain"


CHECKPOINT_FILES = ("weights.pt", "curves.json", "stage.json")


def _load(folder: Path) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]] | None:
    """The cached checkpoint in ``folder``; None when absent, or when its bytes fail their
    checksums (the entry is then discarded with a warning naming the file, and retrained)."""
    from harbench import checksums

    weights, curves = folder / "weights.pt", folder / "curves.json"
    if not (weights.is_file() and curves.is_file()):
        return None
    if not checksums.verified(folder, "pretraining checkpoint", CHECKPOINT_FILES):
        return None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        rows = json.loads(curves.read_text())
    except Exception as exc:  # a corrupt entry is an error the user should see, with its path
        raise HarbenchError(f"{folder}: cached pretraining checkpoint is unreadable ({exc}); "
                            "delete the folder to retrain") from None
    return state, rows


def _store(folder: Path, state: dict[str, torch.Tensor], curves: list[dict[str, float]],
           stage: dict[str, Any]) -> None:
    from harbench import checksums
    from harbench.atomic import write_folder

    def fill(tmp: Path) -> None:
        torch.save(state, tmp / "weights.pt")
        (tmp / "curves.json").write_text(json.dumps(curves))
        (tmp / "stage.json").write_text(json.dumps(_plain(stage), indent=1, sort_keys=True))
        checksums.write(tmp, list(CHECKPOINT_FILES))

    write_folder(folder, fill)  # False: another process stored the same checkpoint first


def training_params(stage: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``pretrain`` (or ``supervised``) that a stage sets."""
    keys = SUPERVISED_KEYS if stage.get("objective") == "supervised" else TRAINING_KEYS
    return {k: stage[k] for k in keys if stage.get(k) is not None}


def cached_pretrain(
    stage: dict[str, Any],
    build_fn: Callable[[], nn.Module],
    data_fn: Callable[[], np.ndarray | SourceData],
    cache_dir: str | Path | None = None,
    device: str | torch.device | None = None,
) -> Pretrained:
    """The stage's checkpoint from the cache, or trained now and stored there.

    On a miss, ``data_fn()`` gives the data (an array for a self-supervised objective, a
    :class:`SourceData` for ``supervised``), then ``build_fn()`` builds the model under
    ``torch.manual_seed`` of the stage's seed. Neither is called on a hit.
    """
    key = checkpoint_key(stage)
    folder = Path(cache_dir) / "pretrain" / key if cache_dir is not None else default_dir() / key
    started = time.perf_counter()
    hit = _load(folder)
    if hit is not None:
        return Pretrained(hit[0], hit[1], key, folder, True, time.perf_counter() - started)
    data = data_fn()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(stage.get("seed") or 0))
        model = build_fn()
    started = time.perf_counter()
    params = training_params(stage)
    if stage.get("objective") == "supervised":
        if not isinstance(data, SourceData):
            raise HarbenchError("supervised pretraining needs labelled source data")
        state, curves = supervised(model, data.X, data.y, data.subjects,
                                   n_classes=len(data.classes), device=device, **params)
    else:
        state, curves = pretrain(model, data, device=device, **params)
    seconds = time.perf_counter() - started
    _store(folder, state, curves, {**stage, "seconds": round(seconds, 3)})
    return Pretrained(state, curves, key, folder, False, seconds)


# ---- the stage of a run ------------------------------------------------------------------------


def _head_classes(model: nn.Module) -> int:
    head = getattr(model, _head_name(model), None)
    return int(getattr(head, "out_features", 1) or 1)


def _own_only(stage: dict[str, Any], run_dataset: str) -> bool:
    """Whether the stage's data are the run's own dataset alone."""
    return all(name == run_dataset for name in stage.get("datasets") or [run_dataset])


def _describe_data(stage: dict[str, Any], spec: Any, data: Any) -> dict[str, Any]:
    """What the pretraining data are, for the checkpoint key (cheap: trains nothing)."""
    from harbench import plugins

    own = {"dataset": spec.dataset, "train_windows": data_digest(data.normalised(data.source))}
    if stage.get("objective") == "supervised":
        own["labels"] = data_digest(np.asarray(data.windows.y[data.source]))
        own["subjects"] = _subject_list(data)
    datasets = stage.get("datasets")
    if not datasets:
        return own
    return {"datasets": [
        own if name == spec.dataset
        else {"dataset": name, "window": dict(spec.window or {}), "subjects": "all",
              "loader_version": plugins.get("datasets", name).loader_version}
        for name in datasets
    ]}


def _subject_list(data: Any) -> list[int]:
    return sorted(int(s) for s in np.unique(data.windows.subject[data.source]))


def _other_windows(name: str, spec: Any, shape: tuple[int, ...]):
    from harbench.data.load import load_windows

    other = load_windows(name, **dict(spec.window or {}))
    if np.asarray(other.X).shape[1:] != shape:
        raise HarbenchError(
            f"pretraining dataset {name!r} gives windows of shape {other.X.shape[1:]} "
            f"(samples, channels) but the run's dataset {spec.dataset!r} gives {shape}; "
            "pretraining datasets must share the window length and channels"
        )
    return other


def _gather(stage: dict[str, Any], spec: Any, data: Any) -> np.ndarray | SourceData:
    """The pretraining data: the run's source windows and/or the listed datasets' windows.

    Another dataset's windows are z-scored on themselves; for ``supervised``, class names are
    pooled across datasets and subject ids of the k-th other dataset are shifted by k million.
    """
    from harbench.data.normalise import ZScore

    names = stage.get("datasets") or [spec.dataset]
    own_X = data.normalised(data.source)
    shape = own_X.shape[1:]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]] = []
    for k, name in enumerate(names, start=1):
        if name == spec.dataset:
            w = data.windows
            parts.append((own_X, w.y[data.source], w.subject[data.source], tuple(w.classes)))
            continue
        other = _other_windows(name, spec, shape)
        X = np.asarray(other.X)
        parts.append((ZScore.fit(X).apply(X), np.asarray(other.y),
                      np.asarray(other.subject) + k * _OTHER_DATASET_OFFSET,
                      tuple(other.classes)))
    X = np.concatenate([p[0] for p in parts])
    if stage.get("objective") != "supervised":
        return X
    classes = tuple(sorted({c for p in parts for c in p[3]}))
    if _own_only(stage, spec.dataset):
        classes = tuple(data.windows.classes)  # the run's own order: its head can be kept
    index = {c: i for i, c in enumerate(classes)}
    y = np.concatenate([np.array([index[p[3][v]] for v in p[1]], dtype=np.int64)
                        for p in parts])
    subjects = np.concatenate([np.asarray(p[2], dtype=np.int64) for p in parts])
    return SourceData(X, y, subjects, classes)


def identity(spec: Any, data: Any) -> dict[str, Any]:
    """Everything that shapes the checkpoint of ``spec.pretrain`` for this run's data."""
    stage = dict(spec.pretrain or {})
    objective = stage.get("objective", "mae")
    _check_objective(objective)
    seed = stage.get("seed")
    X_shape = np.asarray(data.windows.X[:1]).shape
    return {
        "model": spec.model,
        "model_params": spec.model_params,
        "channels": int(X_shape[2]),
        "window": int(X_shape[1]),
        "data": _describe_data(stage, spec, data),
        **{k: v for k, v in stage.items() if k not in ("datasets", "models")},
        "objective": objective,
        "seed": int(spec.seed if seed is None else seed),
    }


@dataclass
class Loaded:
    """What loading a stage into a run's model did."""

    key: str
    curves: list[dict[str, float]]
    cached: bool
    load_seconds: float  # reading the checkpoint and loading it (setup time)
    train_seconds: float  # training it here, on a cache miss (0 when cached)
    head_kept: bool  # the pretrained head classifies the run's own classes
    subjects: list[int] = field(default_factory=list)  # the run's dataset's subjects it saw


def _stage(spec: Any, data: Any, run_model: nn.Module | None) -> tuple[Pretrained, dict]:
    from harbench import blocks

    ident = identity(spec, data)
    stage = dict(spec.pretrain or {})
    if ident["objective"] != "supervised" and run_model is not None:
        _loss_fn(run_model, ident["objective"])  # fail early, naming the model
    channels, window = ident["channels"], ident["window"]
    head_classes = _head_classes(run_model) if run_model is not None else len(data.windows.classes)
    gathered: dict[str, Any] = {}

    def data_fn() -> np.ndarray | SourceData:
        gathered["data"] = _gather(stage, spec, data)
        return gathered["data"]

    def build() -> nn.Module:
        got = gathered.get("data")
        classes = len(got.classes) if isinstance(got, SourceData) else head_classes
        model = blocks.build_model(spec.model, channels=channels, window=window, classes=classes,
                                **spec.model_params)
        if ident["objective"] != "supervised":
            _loss_fn(model, ident["objective"])
        return model

    from harbench.devices import run_device

    return cached_pretrain(ident, build, data_fn, device=run_device()), ident


def stage_key(spec: Any) -> str | None:
    """The checkpoint key of the run's pretraining stage (None without one); trains nothing."""
    if getattr(spec, "pretrain", None) is None:
        return None
    from harbench.rundata import prepare

    return checkpoint_key(identity(spec, prepare(spec)))


def ensure_stage(spec: Any) -> None:
    """Train and cache the run's pretraining stage unless it is cached (a no-op then)."""
    if getattr(spec, "pretrain", None) is None:
        return
    from harbench.rundata import prepare

    _stage(spec, prepare(spec), None)


def for_run(spec: Any, model: nn.Module, data: Any) -> Loaded:
    """Load the checkpoint of ``spec.pretrain`` into the run's ``model`` (training it on a miss).

    ``data`` is the run's :class:`harbench.rundata.RunData`. A supervised checkpoint's head is
    loaded only when it was trained on the run's own dataset alone (same classes).
    """
    result, ident = _stage(spec, data, model)
    started = time.perf_counter()
    stage = dict(spec.pretrain or {})
    head_kept = ident["objective"] == "supervised" and _own_only(stage, spec.dataset)
    state = result.state
    if not head_kept:
        head = (_head_name(model),)
        state = {k: v for k, v in state.items() if not _under(k, head)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise HarbenchError(f"pretrained checkpoint has unexpected keys: {unexpected[:5]}")
    load_seconds = time.perf_counter() - started + (result.seconds if result.cached else 0.0)
    subjects = _subject_list(data) if spec.dataset in (stage.get("datasets") or
                                                        [spec.dataset]) else []
    return Loaded(result.key, result.curves, result.cached, load_seconds,
                  0.0 if result.cached else result.seconds, head_kept, subjects)
