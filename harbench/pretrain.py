"""The self-supervised pretraining stage, and the on-disk cache of its checkpoints.

Generic: a backbone supports pretraining by exposing ``pretrain_loss(x, mask_ratio) -> scalar``
(x float32 [B, T, C]); submodules that serve pretraining only (a decoder) are listed in the
model's ``pretrain_modules`` attribute. Objectives: "mae" (calls ``pretrain_loss``).

Functions (what the runner wires):

``pretrain(model, X, *, objective="mae", mask_ratio=0.75, epochs=20, batch_size=128, lr=1e-3,
weight_decay=0.05, seed=0, device=None) -> (state, curves)``
    Trains ``model`` in place on X (np.ndarray float32 [N, T, C], already normalised the way the
    fine-tuning data is) with AdamW and a cosine learning-rate decay; returns the encoder state
    (``encoder_state``) on the CPU and ``curves``, one ``{"epoch", "loss"}`` per epoch (mean
    training loss). Deterministic on the CPU for a given seed; the caller's RNG is untouched.

``reconstruction_loss(model, X, *, mask_ratio=0.75, seed=0, batch_size=256) -> float``
    The pretraining loss over X in eval mode, with masks fixed by ``seed`` (for before/after).

``encoder_state(model) -> dict``
    The state dict without the head and without the ``pretrain_modules``.

``strip_pretraining(model) -> model``
    Removes the ``pretrain_modules`` (sets them to None), so that parameter counts and adapters
    see the deployed network only. A no-op for models without them.

``checkpoint_key(stage) -> str``
    A stable hash of a JSON-able dict describing everything that shaped a checkpoint: model name
    and params, channels and window, dataset(s), training subjects (or a digest of the data),
    objective params (objective, mask_ratio, epochs, batch_size, lr, weight_decay) and seed.

``cached_pretrain(stage, build_fn, X_fn, cache_dir=None) -> Pretrained``
    Returns the checkpoint stored under ``<cache_dir or HARBENCH_CACHE>/pretrain/<key>/``
    (``weights.pt``: torch.save of the state, loaded with ``weights_only=True``; ``curves.json``;
    ``stage.json``) or, on a miss, builds a model with ``build_fn()`` (under ``torch.manual_seed``
    of the stage's seed), gets the data with ``X_fn()``, pretrains with the stage's objective
    params, stores and returns it. ``X_fn`` is only called on a miss.

``for_run(spec, model, X) -> (state, curves)``
    The runner's entry: the stage ``spec.pretrain`` for run ``spec`` whose model is ``model``.
    X is the run's training windows (training subjects only, normalised). With a
    ``datasets: [...]`` list in the stage, the data are those datasets' windows instead (each
    z-scored on itself; the run's own dataset contributes its training windows X only); they
    must have the run's channel count and window length.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harbench.contracts import HarbenchError

OBJECTIVES = {"mae": "pretrain_loss"}
TRAINING_KEYS = ("objective", "mask_ratio", "epochs", "batch_size", "lr", "weight_decay", "seed")
FORMAT = 1  # bump when the stored checkpoint layout changes


def _model_name(model: nn.Module) -> str:
    return getattr(model, "harbench_model", None) or type(model).__name__


def _loss_fn(model: nn.Module, objective: str) -> Callable[..., torch.Tensor]:
    if objective not in OBJECTIVES:
        raise HarbenchError(f"unknown pretraining objective {objective!r}; known: "
                            f"{', '.join(sorted(OBJECTIVES))}")
    fn = getattr(model, OBJECTIVES[objective], None)
    if not callable(fn):
        raise HarbenchError(
            f"model {_model_name(model)!r} cannot be pretrained with objective {objective!r}: it "
            f"has no {OBJECTIVES[objective]}(x, mask_ratio) method (use a backbone such as 'mae')"
        )
    return fn


def _check_data(X: Any) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.ndim != 3 or len(X) == 0:
        shape = getattr(X, "shape", None)
        raise HarbenchError(f"pretraining data must be a non-empty array [N, T, C], got {shape}")
    return np.ascontiguousarray(X, dtype=np.float32)


def _excluded_prefixes(model: nn.Module) -> tuple[str, ...]:
    head = getattr(model, "harbench_head", "head")
    return (head, *getattr(model, "pretrain_modules", ()))


def encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict minus the head and the pretraining-only modules, cloned on the CPU."""
    excluded = _excluded_prefixes(model)
    return {
        k: v.detach().cpu().clone()
        for k, v in model.state_dict().items()
        if not any(k == p or k.startswith(p + ".") for p in excluded)
    }


def strip_pretraining(model: nn.Module) -> nn.Module:
    """Drop the modules only pretraining uses (a decoder); returns the same model."""
    for name in getattr(model, "pretrain_modules", ()):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)
    return model


def _device(device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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
    """Self-supervised training of ``model`` on X; returns (encoder state, per-epoch curves)."""
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
            curves.append({"epoch": epoch, "loss": total / seen})
    model.to(home)
    return encoder_state(model), curves


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
class Pretrained:
    state: dict[str, torch.Tensor]
    curves: list[dict[str, float]]
    key: str
    folder: Path
    cached: bool  # True when it came from the cache without training


def default_dir() -> Path:
    from harbench.data.cache import default_cache_dir

    return default_cache_dir() / "pretrain"


def _load(folder: Path) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]] | None:
    weights, curves = folder / "weights.pt", folder / "curves.json"
    if not (weights.is_file() and curves.is_file()):
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
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        torch.save(state, tmp / "weights.pt")
        (tmp / "curves.json").write_text(json.dumps(curves))
        (tmp / "stage.json").write_text(json.dumps(_plain(stage), indent=1, sort_keys=True))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process stored the same checkpoint first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def training_params(stage: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``pretrain`` that a stage sets."""
    return {k: stage[k] for k in TRAINING_KEYS if k in stage}


def cached_pretrain(
    stage: dict[str, Any],
    build_fn: Callable[[], nn.Module],
    X_fn: Callable[[], np.ndarray],
    cache_dir: str | Path | None = None,
) -> Pretrained:
    """The stage's checkpoint from the cache, or trained now and stored there."""
    key = checkpoint_key(stage)
    folder = Path(cache_dir) / "pretrain" / key if cache_dir is not None else default_dir() / key
    hit = _load(folder)
    if hit is not None:
        return Pretrained(hit[0], hit[1], key, folder, cached=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(stage.get("seed", 0)))
        model = build_fn()
    started = time.perf_counter()
    state, curves = pretrain(model, X_fn(), **training_params(stage))
    stage_record = {**stage, "seconds": round(time.perf_counter() - started, 3)}
    _store(folder, state, curves, stage_record)
    return Pretrained(state, curves, key, folder, cached=False)


# ---- the runner's entry ------------------------------------------------------------------------


def _head_classes(model: nn.Module) -> int:
    head = getattr(model, getattr(model, "harbench_head", "head"), None)
    return int(getattr(head, "out_features", 1) or 1)


def _describe_data(stage: dict[str, Any], run_dataset: str, X: np.ndarray,
                   window: dict[str, Any]) -> dict[str, Any]:
    """What the pretraining data are, for the checkpoint key (cheap: loads nothing)."""
    datasets = stage.get("datasets")
    if not datasets:
        return {"dataset": run_dataset, "train_windows": data_digest(X)}
    from harbench import plugins

    return {"datasets": [
        {"dataset": name, "train_windows": data_digest(X)} if name == run_dataset
        else {"dataset": name, "window": window, "subjects": "all",
              "loader_version": plugins.get("datasets", name).loader_version}
        for name in datasets
    ]}


def _gather_data(stage: dict[str, Any], run_dataset: str, X: np.ndarray,
                 window: dict[str, Any]) -> np.ndarray:
    """The pretraining windows: X, or the listed datasets' windows (each z-scored on itself)."""
    datasets = stage.get("datasets")
    if not datasets:
        return X
    from harbench.data.load import load_windows
    from harbench.data.normalise import ZScore

    parts = []
    for name in datasets:
        if name == run_dataset:
            parts.append(X)
            continue
        other = np.asarray(load_windows(name, **window).X)
        if other.shape[1:] != X.shape[1:]:
            raise HarbenchError(
                f"pretraining dataset {name!r} gives windows of shape {other.shape[1:]} "
                f"(samples, channels) but the run's dataset {run_dataset!r} gives {X.shape[1:]}; "
                "pretraining datasets must share the window length and channels"
            )
        parts.append(ZScore.fit(other).apply(other))
    return np.concatenate(parts)


def for_run(spec: Any, model: nn.Module, X: np.ndarray) -> tuple[dict[str, torch.Tensor],
                                                                  list[dict[str, float]]]:
    """The checkpoint of ``spec.pretrain`` for the run's model (cached); (state, curves)."""
    from harbench import api

    stage = dict(spec.pretrain or {})
    _loss_fn(model, stage.get("objective", "mae"))  # fail early, naming the model
    X = _check_data(X)
    window_params = dict(spec.window or {})
    described = _describe_data(stage, spec.dataset, X, window_params)
    channels, window = int(X.shape[2]), int(X.shape[1])
    seed = int(stage.get("seed", spec.seed))
    identity = {
        "model": spec.model,
        "model_params": spec.model_params,
        "channels": channels,
        "window": window,
        "data": described,
        **{k: v for k, v in stage.items() if k != "datasets"},
        "seed": seed,
    }

    def build() -> nn.Module:
        return api.build_model(spec.model, channels=channels, window=window,
                               classes=_head_classes(model), **spec.model_params)

    result = cached_pretrain(
        identity, build, lambda: _gather_data(stage, spec.dataset, X, window_params)
    )
    return result.state, result.curves
