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
