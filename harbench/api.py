"""The public Python API: the same functions the runner uses, for notebooks and other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from harbench import plugins
from harbench.settings import resolve_plugin_params


def build_model(name: str, *, channels: int, window: int, classes: int, **params: Any) -> nn.Module:
    """Build backbone ``name``: float32 [B, T, C] -> logits [B, K]."""
    plugin = plugins.get("models", name)
    merged = resolve_plugin_params("models", name, params)
    model = plugin.build(channels=channels, window=window, classes=classes, **merged)
    model.harbench_head = plugin.head
    model.harbench_targets = dict(plugin.targets)
    model.harbench_model = name
    return model


def adapt(model: nn.Module, method: str, **params: Any) -> nn.Module:
    """Prepare ``model`` for training with adaptation method ``method``."""
    plugin = plugins.get("methods", method)
    merged = resolve_plugin_params("methods", method, params)
    adapted = plugin.adapt(model, **merged)
    adapted.harbench_method = method
    adapted.harbench_bn_policy = plugin.bn_policy
    return adapted


def merge(model: nn.Module) -> nn.Module:
    """The deployable model: adapters merged or fused by the method that added them."""
    method = getattr(model, "harbench_method", None)
    if method is None:
        return model
    merged = plugins.get("methods", method).merge(model)
    return merged


def count(model: nn.Module, *, window: int, channels: int) -> dict[str, int]:
    """{"params", "trainable", "macs"} of ``model`` for one window."""
    from harbench.measure.counting import count as _count

    return _count(model, window=window, channels=channels)


def run_suite(path: str | Path, *, db: str | Path | None = None, **options: Any):
    """Run every pending cell of a suite file; returns the summary of what ran."""
    from harbench.coordinator import run_suite as _run_suite

    return _run_suite(path, db=db, **options)
