"""Can a method adapt a backbone? Checked at validate, from the plugins' declarations.

A method declares the target families it can adapt (``MethodPlugin.needs``, e.g. ("conv",) for
LoRA-Edge); a backbone declares the module names of each family it has (``ModelPlugin.targets``).
The pair is compatible when the backbone has a non-empty family among those the method needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def incompatibility(model: Any, method: Any, method_params: Mapping[str, Any]) -> str | None:
    """Why ``method`` cannot adapt ``model`` with ``method_params``, or None when it can.

    A ``targets`` parameter set by the user to something other than the method's default names
    layers explicitly: the method checks those itself when it adapts.
    """
    needs = tuple(getattr(method, "needs", ()) or ())
    if not needs:
        return None
    from harbench.settings import defaults_of, plugin_params

    default_targets = defaults_of(plugin_params(method)).get("targets")
    if "targets" in method_params and _as_tuple(method_params["targets"]) != _as_tuple(
        default_targets
    ):
        return None
    families = dict(getattr(model, "targets", {}) or {})
    if any(families.get(family) for family in needs):
        return None
    if legacy_adapter_family(model, families):
        return None  # the method resolves the adapter family itself and refuses what it cannot
    present = ", ".join(sorted(f for f, names in families.items() if names)) or "none"
    wanted = " or ".join(needs)
    return (
        f"method {method.name!r} adapts {wanted} layers and backbone {model.name!r} declares no "
        f"{wanted} layer (its target families: {present}). Choose another backbone or method, or "
        "set the method's `targets` to module names of this backbone."
    )


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


LAYER_FAMILIES = ("linear", "conv")


def legacy_adapter_family(model: Any, families: Mapping[str, Any]) -> bool:
    """Whether ``model`` declares its layers the API-1 way: an "adapter" family and no "linear"
    or "conv" family. Such a backbone stays usable for one API version (methods adapt the
    "adapter" family, refusing layers they cannot adapt by name), with a DeprecationWarning
    naming the rename."""
    if not families.get("adapter") or any(f in families for f in LAYER_FAMILIES):
        return False
    import warnings

    warnings.warn(
        f"model plugin {model.name!r} declares only the target family 'adapter' (plugin API 1): "
        "methods now check the families they need. Rename: declare the layers by kind, e.g. "
        "targets = {'conv': ('conv1', 'conv2'), 'linear': ('fc',)}, keeping 'adapter' for the "
        "default targets (see docs/plugins.md, Changes).",
        DeprecationWarning,
        stacklevel=2,
    )
    return True
