"""What every executor shares: the ``workers`` setting, the error of a lost run, event delivery."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from harbench.settings import Param

DEVICE = Param(
    None,
    "device of every run (sets HARBENCH_DEVICE in the workers), e.g. cuda; null: inherit",
    kind="str",
    nullable=True,
)
# environment variables a worker on another process or machine needs to see as the caller does
FORWARDED_ENV = ("HARBENCH_CACHE", "HARBENCH_DATA", "HARBENCH_THREADS", "HARBENCH_DEVICE",
                 "HARBENCH_ARTIFACTS",
                 "HARBENCH_BLOCK_PLUGINS")


class WorkerDied(RuntimeError):
    """A worker ended without returning its run's result (crash, OOM kill, signal, lost job)."""


def call(fn: Callable[..., Any], spec: Any, emit: Callable[[Any], None] | None) -> Any:
    """``fn(spec, emit)`` when events are wanted, else ``fn(spec)`` (the executor contract)."""
    return fn(spec) if emit is None else fn(spec, emit)


def forwarded_env(device: str | None = None) -> dict[str, str]:
    """The HARBENCH_* variables of this process that workers elsewhere must share."""
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    if device:
        env["HARBENCH_DEVICE"] = device
    return env


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` set in ``os.environ`` for the block, and the variables as found afterwards."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def encode(value: Any) -> Any:
    """A JSON-able form of a result: dataclasses (nested too) tagged with their type."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dataclass__": f"{kind.__module__}:{kind.__qualname__}", **fields}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """The value ``encode`` described; only dataclasses are rebuilt (never arbitrary objects)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__dataclass__" not in value:
        return {k: decode(v) for k, v in value.items()}
    module, _, name = str(value["__dataclass__"]).partition(":")
    kind = getattr(importlib.import_module(module), name, None)
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        raise ValueError(f"result names {value['__dataclass__']!r}, which is not a dataclass")
    return kind(**{k: decode(v) for k, v in value.items() if k != "__dataclass__"})
