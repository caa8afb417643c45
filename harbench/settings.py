"""Typed settings: every tunable value declared once, with its default, its range and a one-line doc.

A :class:`Param` describes one value. Plugins declare theirs in a ``params`` mapping
(``{"r": Param(8, "adapter rank", min=1)}``); the suite parser, the runner, the public API and the
docs all read the same declarations, so a bad value is refused at ``harbench validate`` with the
key that holds it, before any run.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harbench.contracts import HarbenchError

_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One setting: default, accepted type, inclusive/exclusive bounds or choices, and a doc line.

    ``kind`` is inferred from the default when not given: "bool", "int", "float", "str", "list",
    "mapping" or "any". ``nullable`` admits None (implied by a default of None).
    """

    default: Any
    doc: str = ""
    kind: str = ""
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[Any, ...] | None = None
    nullable: bool = False

    @property
    def type_name(self) -> str:
        if self.kind:
            return self.kind
        d = self.default
        if isinstance(d, bool):
            return "bool"
        if isinstance(d, int):
            return "int"
        if isinstance(d, float):
            return "float"
        if isinstance(d, str):
            return "str"
        if isinstance(d, (list, tuple)):
            return "list"
        if isinstance(d, Mapping):
            return "mapping"
        return "any"

    def describe_range(self) -> str:
        """Human text of what is accepted, e.g. ``int >= 1`` or ``one of fp32, bf16``."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        parts = [self.type_name]
        if self.min is not None:
            parts.append(f"{'>' if self.min_exclusive else '>='} {self.min:g}")
        if self.max is not None:
            parts.append(f"{'<' if self.max_exclusive else '<='} {self.max:g}")
        return " ".join(parts)

    def check(self, value: Any) -> Any:
        """The value, or a HarbenchError message (without location) saying what was expected."""
        if value is None:
            if self.nullable or self.default is None:
                return None
            raise HarbenchError(f"expected {self.describe_range()}, got null")
        kind = self.type_name
        ok = True
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and not math.isfinite(float(value)):
                raise HarbenchError(f"expected a finite number, got {value!r}")
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind == "list":
            ok = isinstance(value, (list, tuple))
        elif kind == "mapping":
            ok = isinstance(value, Mapping)
        if not ok:
            raise HarbenchError(f"expected {self.describe_range()}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise HarbenchError(f"expected {self.describe_range()}, got {value!r}.{hint}")
        if kind in ("int", "float"):
            low_bad = self.min is not None and (
                value <= self.min if self.min_exclusive else value < self.min
            )
            high_bad = self.max is not None and (
                value >= self.max if self.max_exclusive else value > self.max
            )
            if low_bad or high_bad:
                raise HarbenchError(f"expected {self.describe_range()}, got {value!r}")
        return value


class ParamError(HarbenchError):
    """A bad parameter; ``key`` is the parameter's name, for locating the error in a suite."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def defaults_of(params: Mapping[str, Param]) -> dict[str, Any]:
    """``{name: default}`` of a parameter declaration."""
    return {k: p.default for k, p in params.items()}


def resolve(
    owner: str, params: Mapping[str, Param], given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Merge ``given`` over the declared defaults, checking names (did-you-mean) and values.

    ``owner`` names what the parameters belong to in messages, e.g. ``"method 'lora'"``. Raises
    :class:`ParamError` whose ``key`` is the offending parameter.
    """
    given = dict(given or {})
    out = defaults_of(params)
    for key, value in given.items():
        if key not in params:
            close = difflib.get_close_matches(str(key), list(params), n=2, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(params)) or "none"
            raise ParamError(
                f"{owner} has no parameter {key!r}.{hint} Its parameters: {known}.", key
            )
        try:
            out[key] = params[key].check(value)
        except HarbenchError as exc:
            raise ParamError(f"{owner} parameter {key!r}: {exc}", key) from None
    return out


def params_from_defaults(defaults: Mapping[str, Any]) -> dict[str, Param]:
    """A declaration inferred from a plain defaults dict (for plugins that declare no ``params``)."""
    return {k: Param(v, kind="any" if v is None else "") for k, v in defaults.items()}
