"""Located errors: every problem in a suite names its file, line and full key path; and the
small checks of plain values that every part of the parser uses.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError

Key = tuple[Any, ...]


class SuiteError(HarbenchError):
    """A problem in a suite file, located by file, line and key."""


class SuiteErrors(SuiteError):
    """Several independent problems of one suite file, reported together."""

    def __init__(self, errors: list[SuiteError]):
        self.errors = sorted(errors, key=lambda e: getattr(e, "line", None) or 0)  # file order
        lines = [f"{len(self.errors)} problems in the suite:"]
        lines += [f"  {i}. {e}" for i, e in enumerate(self.errors, 1)]
        super().__init__("\n".join(lines))


class Collector:
    """Gathers the SuiteErrors of independent checks, so ``validate`` reports them all at once."""

    def __init__(self) -> None:
        self.errors: list[SuiteError] = []

    def attempt(self, check: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        """``check(*args)``, or ``default`` after recording the error(s) it raised."""
        try:
            return check(*args)
        except SuiteErrors as exc:
            self.errors.extend(exc.errors)
        except SuiteError as exc:
            self.errors.append(exc)
        return default

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def raise_any(self) -> None:
        """Raise the one error recorded, or all of them as a :class:`SuiteErrors`."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise SuiteErrors(self.errors)


class Where:
    """Builds located errors for one suite file."""

    def __init__(self, path: Path, lines: dict[tuple[str, ...], int]):
        self.path = path
        self.lines = lines

    def __repr__(self) -> str:
        return f"Where({str(self.path)!r})"

    def line(self, key_path: Key) -> int | None:
        """The line of ``key_path``, or of its nearest written parent."""
        text = tuple(str(k) for k in key_path)
        for n in range(len(text), -1, -1):
            if text[:n] in self.lines:
                return self.lines[text[:n]]
        return None

    def error(self, key_path: Key, message: str) -> SuiteError:
        """A SuiteError naming the file, the line and the full key path."""
        line = self.line(key_path)
        key = ".".join(str(k) for k in key_path) or "(top level)"
        at = f"{self.path}, line {line}" if line else str(self.path)
        error = SuiteError(f"{at}, key '{key}': {message}")
        error.line = line
        return error

    def fail(self, base: Key, exc: HarbenchError, sources: Mapping[str, Key] | None = None):
        """Raise ``exc`` located at ``base`` plus the key path it carries (a ParamError's), or
        at the path ``sources`` records for its first key (a value set by an override)."""
        path = tuple(getattr(exc, "path", ()) or ())
        if path and sources and path[0] in sources:
            base, path = sources[path[0]], path[1:]
        raise self.error(tuple(base) + path, str(exc)) from None


def mapping(where: Where, key: Key, value: Any) -> dict[str, Any]:
    """``value`` as a mapping (None is empty); a located error otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(key, f"expected a mapping, got {type(value).__name__} {value!r}")
    return value


def check_keys(where: Where, key: Key, value: dict, allowed: set[str]) -> None:
    """Refuse every key outside ``allowed``, each with a did-you-mean."""
    errors = Collector()
    for k in value:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), sorted(allowed), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            errors.errors.append(where.error(
                key + (k,), f"unknown key.{hint} Expected one of: {', '.join(sorted(allowed))}"
            ))
    errors.raise_any()


def known(where: Where, key: Key, kind: str, name: Any) -> Any:
    """The registered plugin ``name`` of ``kind``; a located did-you-mean error otherwise."""
    if not isinstance(name, str):
        raise where.error(key, f"expected a {kind[:-1]} name, got {name!r}")
    try:
        return plugins.get(kind, name)
    except HarbenchError as exc:
        raise where.error(key, str(exc)) from None


def int_list(where: Where, key: Key, value: Any) -> list[int]:
    """An integer or a non-empty list of integers, as a list."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise where.error(key, f"expected a list of integers, got {value!r}")
    return value


def names_of(value: Any) -> list[str]:
    """None, a name or a list of names, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def dotted(key: Key) -> str:
    """A key path as written in messages: ``matrix.methods.2.lora``."""
    return ".".join(str(k) for k in key)


def sources_of(base: Key, values: Mapping[str, Any]) -> dict[str, Key]:
    """Each key of ``values`` mapped to its key path under ``base``."""
    return {k: base + (k,) for k in values}
