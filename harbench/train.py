"""fit / evaluate: AdamW, ReduceLROnPlateau, early stopping, best-checkpoint restore."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from harbench.contracts import HarbenchError
from harbench.finite import check_logits
from harbench.metrics import scores
from harbench.settings import TrainingSettings


class DivergedError(RuntimeError):
    """Training produced a non-finite loss."""


# The typed training settings (harbench.settings): checked on construction; ``from_dict`` refuses
# unknown keys instead of dropping them.
TrainConfig = TrainingSettings


@dataclass
class FitResult:
    curves: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    fit_seconds: float = 0.0
    stopped_early: bool = False


def set_train_mode(model: nn.Module, bn_frozen: bool) -> None:
    """Train mode; BatchNorm layers stay in eval mode (statistics frozen) when ``bn_frozen``."""
    model.train()
    if bn_frozen:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def model_device(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


@torch.no_grad()
def predict(
    model: nn.Module, X: torch.Tensor, batch_size: int = 512, precision: str = "fp32"
) -> torch.Tensor:
    """Logits (float32) for every row of X (eval mode), on the CPU; batches go to the model's
    device, where they stay until the end (one host transfer)."""
    model.eval()
    device = model_device(model)
    with _autocast(device, precision):
        outs = [model(X[i : i + batch_size].to(device)) for i in range(0, len(X), batch_size)]
    return torch.cat(outs).float().cpu() if outs else torch.zeros(0)


def evaluate(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, n_classes: int, precision: str = "fp32",
    phase: str = "evaluation",
) -> dict[str, Any]:
    """Loss, accuracy, macro/weighted F1, per-class F1 and confusion on (X, y).

    Raises :class:`~harbench.finite.NonFiniteError` naming ``phase`` when a logit is NaN/inf
    (argmax over NaN would score class 0 everywhere)."""
    logits = predict(model, X, precision=precision)
    check_logits(logits, phase)
    y = y.cpu()
    loss = float(nn.functional.cross_entropy(logits, y)) if len(y) else float("nan")
    result = scores(y.numpy(), logits.argmax(dim=1).numpy(), n_classes)
    result["loss"] = loss
    return result


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA for "bf16"/"fp16"; fp32 elsewhere (the CPU runs fp32: bf16 was
    not measured faster there for these small models)."""
    if precision not in PRECISIONS:
        raise HarbenchError(
            f"training.precision must be one of {sorted(PRECISIONS)}, got {precision!r}"
        )
    if precision == "fp32" or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=PRECISIONS[precision])


def resident(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` moved to ``device`` once when it fits there comfortably (a quarter of the free
    memory of a CUDA device); else ``t`` as it is (batches are then moved one by one)."""
    if t.device == device:
        return t
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if t.numel() * t.element_size() > free // 4:
            return t
    return t.to(device)


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    config: TrainConfig,
    *,
    n_classes: int,
    bn_frozen: bool = False,
    seed: int = 0,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``model`` in place on ``train``; restore the best epoch on ``val``.

    Only parameters with ``requires_grad`` are optimised; with none, no epoch runs and the result
    has no curve (``best_epoch`` 0). The data move to the model's device
    once when they fit; ``config.precision`` ("fp32", "bf16", "fp16") runs the forward passes under
    CUDA autocast (fp16 with a gradient scaler); the CPU runs fp32. Raises DivergedError when an
    epoch's loss is NaN/inf (checked once per epoch, so no step waits for the host).
    """
    device = model_device(model)
    precision = getattr(config, "precision", "fp32")
    autocast = _autocast(device, precision)  # validates the setting before any work
    X, y = resident(train[0], device), resident(train[1], device)
    X_val, y_val = resident(val[0], device), val[1]
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:  # a method that trains nothing (none, adabn): no optimiser, no epoch
        return FitResult()
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, mode="min", factor=config.lr_factor, patience=config.lr_patience
    )
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" and device.type == "cuda" else None
    generator = torch.Generator().manual_seed(seed)
    # float64 like the Python float it replaces (MPS has no float64)
    loss_dtype = torch.float32 if device.type == "mps" else torch.float64
    result = FitResult()
    best_score, best_state, waited = -math.inf, None, 0
    started = time.perf_counter()
    n = len(y)
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        set_train_mode(model, bn_frozen)
        order = torch.randperm(n, generator=generator).to(X.device)
        # summed on the device: no host synchronisation inside the epoch
        total_loss = torch.zeros((), dtype=loss_dtype, device=device)
        steps = samples = 0  # optimiser steps and windows seen (time-to-target in steps, MACs)
        for i in range(0, n, config.batch_size):
            index = order[i : i + config.batch_size]
            if len(index) < 2 and n >= 2:  # a batch of one breaks BatchNorm in train mode
                continue
            xb, yb = X[index].to(device), y[index].to(device)
            with autocast:
                loss = nn.functional.cross_entropy(model(xb), yb)
            optimiser.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                optimiser.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimiser)
                scaler.update()
            total_loss += loss.detach().to(loss_dtype) * len(index)
            steps, samples = steps + 1, samples + len(index)
        train_loss = total_loss.item() / max(1, n)
        if not math.isfinite(train_loss):
            raise DivergedError(f"training diverged: loss is {train_loss} at epoch {epoch}")
        val_metrics = evaluate(model, X_val, y_val, n_classes, precision,
                               phase=f"validation after epoch {epoch}")
        scheduler.step(val_metrics["loss"])
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_metrics["loss"],
            "val_f1": val_metrics["macro_f1"],
            "lr": optimiser.param_groups[0]["lr"],
            "seconds": time.perf_counter() - epoch_start,
            "steps": steps,
            "samples": samples,
        }
        result.curves.append(row)
        if on_epoch is not None:
            on_epoch(row)
        score = row["val_f1"] if config.monitor == "val_f1" else -row["val_loss"]
        if score > best_score:
            best_score, waited, result.best_epoch = score, 0, epoch
            best_state = _snapshot(model)
        else:
            waited += 1
            if waited >= config.patience:
                result.stopped_early = True
                break
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    result.fit_seconds = time.perf_counter() - started
    return result


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of what training changes: trainable parameters and buffers (frozen weights are
    left alone, which also keeps quantised weights out of the copy)."""
    changing = {n for n, p in model.named_parameters() if p.requires_grad}
    changing |= {n for n, _ in model.named_buffers()}
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k in changing}


def to_tensors(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 [N, T, C] and int64 [N] tensors (sharing memory where possible)."""
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), torch.from_numpy(
        np.ascontiguousarray(y, dtype=np.int64)
    )
