"""Checking a plugin's parameters against the defaults it declares."""

from __future__ import annotations

import difflib
from typing import Any

from harbench.contracts import HarbenchError


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple, str))
    if isinstance(default, str):  # a name, or a list of names (e.g. adapter targets)
        return isinstance(value, (str, list, tuple))
    return isinstance(value, type(default))


def resolve_params(
    kind: str, name: str, defaults: dict[str, Any], given: dict[str, Any], where: str = ""
) -> dict[str, Any]:
    """Merge ``given`` over ``defaults``; refuse unknown keys (did-you-mean) and wrong types."""
    at = f" ({where})" if where else ""
    for key, value in given.items():
        if key not in defaults:
            close = difflib.get_close_matches(key, list(defaults), n=2, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(defaults)) or "none"
            raise HarbenchError(
                f"{kind} {name!r} has no parameter {key!r}{at}.{hint} Its parameters: {known}."
            )
        if not _type_ok(defaults[key], value):
            raise HarbenchError(
                f"{kind} {name!r} parameter {key!r}{at} must be {type(defaults[key]).__name__}, "
                f"got {value!r}."
            )
    merged = dict(defaults)
    merged.update(given)
    return merged
