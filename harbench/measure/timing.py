"""Inference latency and time-to-target F1.

Latency is the median wall time of one forward pass (eval mode, no autograd) over ``repeats``
timed passes after ``warmup`` untimed ones, on the model's own device.

Time-to-target reads the per-epoch curves that ``harbench.train.fit`` records: each row has
``epoch`` and ``val_f1``, and either a cumulative time (``wall_time`` or ``elapsed``, seconds since
training began) or the epoch's own duration (``seconds`` or ``epoch_time``), which is summed.
The runner stores no time-to-target of its own: a comparison needs one target shared by every
method, which ``harbench.report.targets`` computes from the stored curves when reports are made.
Give ``time_to_target`` an explicit ``target`` to compare runs; its default (a fraction of the
run's own best) only describes one run's convergence.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harbench.contracts import HarbenchError

CUMULATIVE_KEYS = ("wall_time", "elapsed")
EPOCH_TIME_KEYS = ("seconds", "epoch_time")
DEFAULT_FRACTION = 0.95


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_forward_seconds(
    model: nn.Module, example: torch.Tensor, *, repeats: int = 30, warmup: int = 5
) -> float:
    """Median seconds of ``model(example)`` in eval mode under ``torch.no_grad``."""
    if repeats < 1 or warmup < 0:
        raise HarbenchError(f"latency needs repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.no_grad():
            for _ in range(warmup):
                model(example)
            _sync(example.device)
            for _ in range(repeats):
                start = time.perf_counter()
                model(example)
                _sync(example.device)
                times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return statistics.median(times)


def latency(
    model: nn.Module,
    *,
    window: int,
    channels: int,
    batch_sizes: Sequence[int] = (1, 64),
    repeats: int = 30,
    warmup: int = 5,
) -> dict[int, float]:
    """{batch size: median seconds per forward pass} on random [B, window, channels] input."""
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    generator = torch.Generator().manual_seed(0)
    out = {}
    for batch in batch_sizes:
        example = torch.randn(batch, window, channels, generator=generator).to(device)
        out[int(batch)] = median_forward_seconds(model, example, repeats=repeats, warmup=warmup)
    return out


def _cumulative_seconds(curves: Sequence[dict[str, Any]]) -> list[float | None]:
    """Seconds since the start of training at the end of each epoch (None if not recorded)."""
    total = 0.0
    out: list[float | None] = []
    for row in curves:
        cumulative = next((row[k] for k in CUMULATIVE_KEYS if row.get(k) is not None), None)
        if cumulative is not None:
            total = float(cumulative)
            out.append(total)
            continue
        step = next((row[k] for k in EPOCH_TIME_KEYS if row.get(k) is not None), None)
        if step is None:
            out.append(None)
            continue
        total += float(step)
        out.append(total)
    return out


def time_to_target(
    curves: Sequence[dict[str, Any]],
    *,
    target: float | None = None,
    fraction: float = DEFAULT_FRACTION,
) -> dict[str, float | int | None]:
    """When validation macro-F1 first reaches ``target`` in a run's per-epoch ``curves``.

    ``target`` defaults to ``fraction`` of the same run's best ``val_f1``. Returns ``{"target",
    "epochs", "seconds", "best_val_f1"}``; ``epochs`` and ``seconds`` are None when the target is
    never reached (``seconds`` also when the curves carry no time).
    """
    rows = [r for r in curves if r.get("val_f1") is not None]
    best = max((float(r["val_f1"]) for r in rows), default=None)
    if target is None:
        target = None if best is None else fraction * best
    result: dict[str, float | int | None] = {
        "target": target, "epochs": None, "seconds": None, "best_val_f1": best,
    }
    if target is None:
        return result
    times = _cumulative_seconds(rows)
    for index, (row, seconds) in enumerate(zip(rows, times)):
        if float(row["val_f1"]) >= target:
            result["epochs"] = int(row.get("epoch", index + 1))
            result["seconds"] = seconds
            break
    return result


def convergence_speedup(
    reference: Sequence[dict[str, Any]],
    method: Sequence[dict[str, Any]],
    *,
    target: float | None = None,
    fraction: float = DEFAULT_FRACTION,
) -> dict[str, float | None]:
    """How many times faster ``method`` reaches a common validation-F1 target than ``reference``.

    The common target defaults to ``fraction`` of the lower of the two runs' best ``val_f1``, so
    that both runs reach it. Returns ``{"target", "reference_seconds", "method_seconds",
    "time_ratio", "epoch_ratio"}`` (ratios are reference / method; None where not reached).
    """
    if target is None:
        bests = [time_to_target(c)["best_val_f1"] for c in (reference, method)]
        target = None if None in bests else fraction * min(bests)
    ref = time_to_target(reference, target=target)
    new = time_to_target(method, target=target)

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    return {
        "target": target,
        "reference_seconds": ref["seconds"],
        "method_seconds": new["seconds"],
        "time_ratio": ratio(ref["seconds"], new["seconds"]),
        "epoch_ratio": ratio(ref["epochs"], new["epochs"]),
    }
