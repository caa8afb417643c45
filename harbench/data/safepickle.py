"""Decoding pickles without executing them: only an explicit allow-list of globals resolves."""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a global that is not on the allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` answers only from ``allowed``.

    ``allowed`` maps (module, name) to the harmless object that stands in for it; any other global
    (``os.system``, ``builtins.eval``, ...) raises :class:`ForbiddenGlobal` before anything runs.
    """

    def __init__(
        self,
        file: io.BufferedIOBase,
        allowed: dict[tuple[str, str], Callable[..., Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(file, **kwargs)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(
                f"pickle refers to {module}.{name}, which is not allowed"
            ) from None


def restricted_loads(
    data: bytes, allowed: dict[tuple[str, str], Callable[..., Any]], **kwargs: Any
) -> Any:
    """Decode ``data`` with :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(io.BytesIO(data), allowed, **kwargs).load()
