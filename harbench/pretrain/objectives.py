"""The pretraining objectives: self-supervised (``mae``: the backbone's ``pretrain_loss``) and
supervised (cross-entropy on labelled source windows), and the state a checkpoint keeps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
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
