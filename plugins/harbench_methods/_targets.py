"""Target resolution, the one resolver every built-in method uses: which layers a ``targets``
parameter names, and why a layer cannot be adapted correctly.

Not a plugin (the leading underscore keeps it out of discovery). Imported when a method runs,
never at plugin load: it imports torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from torch import nn

from harbench.contracts import HarbenchError, ModelInfo

from ._base import ALL_LAYERS, ALL_LINEAR, LayerSupport, in_head, matches_suffix


def matching_modules(
    model: nn.Module, suffixes: Iterable[str], types: tuple[type, ...]
) -> list[str]:
    """Names of submodules of the given types whose name equals or ends with a suffix."""
    suffixes = list(suffixes)
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, types) and matches_suffix(name, suffixes)
    ]


# --- target resolution with per-method layer support ---------------------------------------------

# torch modules that run their sublayers through fused kernels reading ``.weight`` directly, so an
# adapter wrapped around a sublayer is skipped (MultiheadAttention.out_proj always; the
# Transformer*Layer linears in eval mode, on the "fast path").
FUSED_TORCH_MODULES: tuple[type, ...] = (
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
)


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
    if not isinstance(module, support.classes):
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
        if module.padding_mode != "zeros" and not support.any_padding:
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


def target_suffixes(info: ModelInfo, targets: Any, default: Sequence[str] = ()) -> list[str] | str:
    """The suffixes a ``targets`` parameter stands for, or one of the ALL_* shorthands.

    ``targets`` is "default", a family name the model plugin declares, "all-linear", "all", a
    module-name suffix, or a list of families and suffixes. "default" means the families in
    ``default`` when given (the first one the backbone declares; "all" when it declares none of
    them), else the backbone's "adapter" family, else its "linear" + "conv" families.
    """
    if targets in (None, "", "default"):
        if default:
            declared = [s for family in default for s in info.family(family)]
            return declared or ALL_LAYERS
        return list(info.family("adapter")) or [*info.family("linear"), *info.family("conv")]
    if isinstance(targets, str):
        if targets in (ALL_LINEAR, ALL_LAYERS):
            return targets
        targets = [targets]
    suffixes: list[str] = []
    for entry in targets:
        suffixes += list(info.family(str(entry))) or [str(entry)]
    return suffixes


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
    return matches_suffix(name, suffixes)


def resolve_targets(
    model: nn.Module,
    info: ModelInfo,
    targets: Any,
    method: str,
    support: LayerSupport | None = None,
    default: Sequence[str] = (),
) -> list[str]:
    """Full names of the modules ``method`` wraps: never the head, never an unsupported layer.

    With ``support`` (strict) every matching layer must be adaptable under it, else a
    HarbenchError names the layer and the reason. Without it, the Linear/Conv1d/Conv2d layers
    matching ``targets`` are returned and other layers are left out (what custom methods rely
    on); layers inside fused torch modules are refused either way. Containers whose name
    matches are skipped: their layers match by their own names. ``default``: see
    :func:`target_suffixes`.
    """
    strict = support is not None
    support = support or LayerSupport()
    types = support.classes
    suffixes = target_suffixes(info, targets, default)
    names, problems = [], []
    for name, module in model.named_modules():
        if not name or in_head(name, info.head):
            continue
        if not _selected(model, name, module, suffixes, types):
            continue
        if isinstance(module, types):
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
        raise HarbenchError(
            f"method {method!r} found no {support.describe()} layer matching targets {suffixes} "
            f"in {type(model).__name__} ({info.name}; the head {info.head!r} is never wrapped). "
            "Set `targets` to module-name suffixes, 'all-linear', 'all', or a family the "
            f"backbone declares: {sorted(info.targets)}."
        )
    return names


def exact_names_pattern(names: Iterable[str]) -> str:
    """A regex matching exactly these module names (peft full-matches a string target)."""
    return "(?:" + "|".join(re.escape(n) for n in names) + ")"
