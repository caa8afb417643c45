"""Helpers shared by the built-in methods: freezing, head lookup, target resolution."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from harbench.contracts import HarbenchError


def head_name(model: nn.Module) -> str:
    """Name of the classifier submodule, as declared by the model plugin."""
    return getattr(model, "harbench_head", "head")


def default_targets(model: nn.Module, family: str) -> list[str]:
    """The module-name suffixes the model plugin declares for an adapter ``family``."""
    targets = getattr(model, "harbench_targets", {}) or {}
    return list(targets.get(family, ()))


def freeze(model: nn.Module) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def unfreeze_modules(model: nn.Module, names: Iterable[str]) -> None:
    """Make the parameters of the named submodules trainable."""
    modules = dict(model.named_modules())
    for name in names:
        if name not in modules:
            raise HarbenchError(f"model has no submodule {name!r}")
        for p in modules[name].parameters():
            p.requires_grad_(True)


def trainable_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def require_trainable(model: nn.Module, method: str) -> nn.Module:
    """Fail loudly when a method left nothing to train."""
    if trainable_count(model) == 0:
        raise HarbenchError(f"method {method!r} adapted nothing: the model has no trainable parameter")
    return model


def matching_modules(model: nn.Module, suffixes: Iterable[str], types: tuple[type, ...]) -> list[str]:
    """Names of submodules of the given types whose name equals or ends with a suffix."""
    suffixes = list(suffixes)
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, types):
            continue
        if any(name == s or name.endswith("." + s) for s in suffixes):
            found.append(name)
    return found
