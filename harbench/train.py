"""fit / evaluate: AdamW, ReduceLROnPlateau, early stopping, best-checkpoint restore."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

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
def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits for every row of X (eval mode), on the CPU; batches go to the model's device."""
    model.eval()
    device = model_device(model)
    outs = [model(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(outs) if outs else torch.zeros(0)


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict[str, Any]:
    """Loss, accuracy, macro/weighted F1, per-class F1 and confusion on (X, y)."""
    logits = predict(model, X)
    loss = float(nn.functional.cross_entropy(logits, y)) if len(y) else float("nan")
    result = scores(y.numpy(), logits.argmax(dim=1).numpy(), n_classes)
    result["loss"] = loss
    return result


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

    Only parameters with ``requires_grad`` are optimised. Raises DivergedError on a NaN/inf loss.
    """
    X, y = train
    X_val, y_val = val
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameter")
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, mode="min", factor=config.lr_factor, patience=config.lr_patience
    )
    generator = torch.Generator().manual_seed(seed)
    device = model_device(model)
    result = FitResult()
    best_score, best_state, waited = -math.inf, None, 0
    started = time.perf_counter()
    n = len(y)
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        set_train_mode(model, bn_frozen)
        order = torch.randperm(n, generator=generator)
        total_loss = 0.0
        for i in range(0, n, config.batch_size):
            index = order[i : i + config.batch_size]
            if len(index) < 2 and n >= 2:  # a batch of one breaks BatchNorm in train mode
                continue
            xb, yb = X[index].to(device), y[index].to(device)
            loss = nn.functional.cross_entropy(model(xb), yb)
            if not torch.isfinite(loss):
                raise DivergedError(f"training diverged: loss is {loss.item()} at epoch {epoch}")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total_loss += loss.item() * len(index)
        val_metrics = evaluate(model, X_val, y_val, n_classes)
        scheduler.step(val_metrics["loss"])
        row = {
            "epoch": epoch,
            "train_loss": total_loss / max(1, n),
            "val_loss": val_metrics["loss"],
            "val_f1": val_metrics["macro_f1"],
            "lr": optimiser.param_groups[0]["lr"],
            "seconds": time.perf_counter() - epoch_start,
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
