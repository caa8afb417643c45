"""Helpers shared by the built-in methods: freezing, head lookup, target resolution."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
        raise HarbenchError(
            f"method {method!r} adapted nothing: the model has no trainable parameter"
        )
    return model


def require_positive(method: str, params: dict[str, Any], *keys: str) -> None:
    """Refuse a non-positive value for any of ``keys`` (ranks, step counts)."""
    for key in keys:
        if params[key] is None or params[key] < 1:
            raise HarbenchError(
                f"method {method!r}: parameter {key!r} must be a positive integer, "
                f"got {params[key]!r}"
            )


def matching_modules(
    model: nn.Module, suffixes: Iterable[str], types: tuple[type, ...]
) -> list[str]:
    """Names of submodules of the given types whose name equals or ends with a suffix."""
    suffixes = list(suffixes)
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, types):
            continue
        if any(name == s or name.endswith("." + s) for s in suffixes):
            found.append(name)
    return found


# --- target resolution with per-method layer support ---------------------------------------------

# torch modules that run their sublayers through fused kernels reading ``.weight`` directly, so an
# adapter wrapped around a sublayer is skipped (MultiheadAttention.out_proj always; the
# Transformer*Layer linears in eval mode, on the "fast path").
FUSED_TORCH_MODULES: tuple[type, ...] = (
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
)

# shorthands for ``targets``; neither includes the head nor pretraining-only modules
ALL_LINEAR = "all-linear"  # every nn.Linear
ALL_LAYERS = "all"  # every layer of the types the method supports


@dataclass(frozen=True)
class LayerSupport:
    """Which layers a method can adapt, and which conv variants it computes (and merges) correctly.

    ``grouped_conv``/``dilated_conv`` False: the method refuses convs with ``groups > 1`` or
    ``dilation != 1`` instead of silently computing something else.
    """

    types: tuple[type, ...] = (nn.Linear, nn.Conv1d, nn.Conv2d)
    grouped_conv: bool = True
    dilated_conv: bool = True

    def describe(self) -> str:
        return ", ".join(t.__name__ for t in self.types)


def in_head(name: str, head: str) -> bool:
    return name == head or name.startswith(head + ".")


def fused_ancestor(model: nn.Module, name: str) -> tuple[str, nn.Module] | None:
    """The closest enclosing module of ``name`` that is a fused torch module, if any."""
    parts = name.split(".")
    modules = dict(model.named_modules())
    for i in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:i])
        if isinstance(modules.get(parent), FUSED_TORCH_MODULES):
            return parent, modules[parent]
    return None


def target_problem(model: nn.Module, name: str, module: nn.Module, support: LayerSupport) -> str:
    """Why ``module`` cannot be adapted correctly under ``support``; "" when it can."""
    kind = type(module).__name__
    if not isinstance(module, support.types):
        return f"{name} is a {kind}; this method adapts {support.describe()} layers only"
    fused = fused_ancestor(model, name)
    if fused is not None:
        parent, parent_module = fused
        if isinstance(parent_module, nn.MultiheadAttention):
            return (
                f"{name} belongs to torch.nn.MultiheadAttention {parent!r}, which applies it "
                "through F.multi_head_attention_forward with its weight, never its forward(): an "
                "adapter on it would be silently ignored. Use a backbone with explicit Linear "
                "projections"
            )
        return (
            f"{name} belongs to torch.nn.{type(parent_module).__name__} {parent!r}, whose fused "
            "fast path (eval mode) reads the sublayer weights directly and skips adapters. Use a "
            "backbone with explicit Linear layers"
        )
    if isinstance(module, nn.modules.conv._ConvNd):
        if module.padding_mode != "zeros":
            return (
                f"{name} pads with padding_mode={module.padding_mode!r}; adapter branches pad "
                "with zeros, so the adapted and the merged layer would disagree"
            )
        if module.groups > 1 and not support.grouped_conv:
            return (
                f"{name} is a grouped {kind} (groups={module.groups}); this method cannot "
                "compute and merge an update of a grouped conv correctly"
            )
        if any(d != 1 for d in module.dilation) and not support.dilated_conv:
            return (
                f"{name} is a dilated {kind} (dilation={tuple(module.dilation)}); this method's "
                "update branch ignores dilation, so it would compute another function than the "
                "merged layer"
            )
    return ""


def target_suffixes(model: nn.Module, targets: Any) -> list[str] | str:
    """The suffixes a ``targets`` parameter stands for, or one of the ALL_* shorthands.

    ``targets`` is "default" (the backbone's "adapter" family, else its "linear" + "conv"
    families), a family name the model plugin declares, "all-linear", "all", one name suffix, or
    a list of suffixes.
    """
    if targets in (None, "", "default"):
        return default_targets(model, "adapter") or (
            default_targets(model, "linear") + default_targets(model, "conv")
        )
    if isinstance(targets, str):
        if targets in (ALL_LINEAR, ALL_LAYERS):
            return targets
        return default_targets(model, targets) or [targets]
    return [str(t) for t in targets]


def _is_leaf_layer(module: nn.Module) -> bool:
    """A module with weights of its own and no submodules (a layer, not a container)."""
    has_children = any(True for _ in module.children())
    return not has_children and any(True for _ in module.parameters(recurse=False))


def pretrain_only(model: nn.Module, name: str) -> bool:
    """Whether ``name`` lies in a module the backbone uses for pretraining only (MAE decoder)."""
    return any(in_head(name, p) for p in getattr(model, "pretrain_modules", ()) or ())


def _selected(model: nn.Module, name: str, module: nn.Module, suffixes, types) -> bool:
    if suffixes in (ALL_LINEAR, ALL_LAYERS) and pretrain_only(model, name):
        return False
    if suffixes == ALL_LINEAR:
        return isinstance(module, nn.Linear) and fused_ancestor(model, name) is None
    if suffixes == ALL_LAYERS:
        return isinstance(module, types) and fused_ancestor(model, name) is None
    return any(name == s or name.endswith("." + s) for s in suffixes)


def resolve_targets(
    model: nn.Module, targets: Any, method: str, support: LayerSupport | None = None
) -> list[str]:
    """Full names of the modules ``method`` wraps: never the head, never an unsupported layer.

    With ``support`` (strict) every matching layer must be adaptable under it, else a
    HarbenchError names the layer and the reason. Without it, the Linear/Conv1d/Conv2d layers
    matching ``targets`` are returned and other layers are left out (what custom methods rely
    on); layers inside fused torch modules are refused either way. Containers whose name
    matches are skipped: their layers match by their own names.
    """
    head = head_name(model)
    strict = support is not None
    support = support or LayerSupport()
    suffixes = target_suffixes(model, targets)
    names, problems = [], []
    for name, module in model.named_modules():
        if not name or in_head(name, head):
            continue
        if not _selected(model, name, module, suffixes, support.types):
            continue
        if isinstance(module, support.types):
            problem = target_problem(model, name, module, support)
            if not strict and fused_ancestor(model, name) is None:
                problem = ""
        elif strict and _is_leaf_layer(module):
            problem = target_problem(model, name, module, support)
        else:
            continue
        (problems if problem else names).append(problem or name)
    if problems:
        raise HarbenchError(
            f"method {method!r} cannot adapt {len(problems)} targeted layer(s) of "
            f"{type(model).__name__}: " + "; ".join(problems) + ". Set the method's `targets` "
            "parameter to other layers."
        )
    if not names:
        declared = sorted(getattr(model, "harbench_targets", {}) or {})
        raise HarbenchError(
            f"method {method!r} found no {support.describe()} layer matching targets {suffixes} "
            f"in {type(model).__name__} (the head {head!r} is never wrapped). Set `targets` to "
            f"module-name suffixes, 'all-linear', 'all', or a family the backbone declares: "
            f"{declared}."
        )
    return names


def exact_names_pattern(names: Iterable[str]) -> str:
    """A regex matching exactly these module names (peft full-matches a string target)."""
    return "(?:" + "|".join(re.escape(n) for n in names) + ")"


# --- memory of the frozen weights ----------------------------------------------------------------


def quant_state_bytes(quant_state: Any) -> int:
    """Bytes of a bitsandbytes 4-bit quant state's per-block scales (nested ones included).

    The 16-entry NF4 code and the 256-entry dynamic map of double quantisation are constants of
    the format, not per-weight storage, and are not counted.
    """
    total = 0
    absmax = getattr(quant_state, "absmax", None)
    if absmax is not None:
        total += absmax.numel() * absmax.element_size()
    if getattr(quant_state, "nested", False):
        total += quant_state_bytes(quant_state.state2)
        offset = getattr(quant_state, "offset", None)
        if offset is not None:
            total += offset.numel() * offset.element_size()
    return total


def frozen_weight_bytes(model: nn.Module) -> int:
    """Bytes held by the parameters that do not train (each shared parameter counted once).

    A bitsandbytes 4-bit weight counts its packed storage (4 bits per weight) plus its
    quant-state scales; every other frozen parameter counts ``numel * element_size``. Buffers
    (BatchNorm statistics) are not weights and are not counted.
    """
    total = 0
    seen: set[int] = set()
    for p in model.parameters():
        if p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel() * p.element_size()
        quant_state = getattr(p, "quant_state", None)
        if quant_state is not None:
            total += quant_state_bytes(quant_state)
    return total
