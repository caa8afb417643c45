"""The plugin manager: loads entry points, holds the registries, answers lookups by name."""

from __future__ import annotations

import difflib
import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

import pluggy

from harbench import hookspecs
from harbench.contracts import (
    DatasetPlugin,
    Executor,
    HarbenchError,
    MethodPlugin,
    ModelPlugin,
    Registration,
)

GROUP = "harbench"
BLOCK_ENV = "HARBENCH_BLOCK_PLUGINS"  # comma-separated entry-point names not to load

KINDS: dict[str, type] = {
    "datasets": DatasetPlugin,
    "models": ModelPlugin,
    "methods": MethodPlugin,
    "executors": Executor,
}


class PluginLoadWarning(UserWarning):
    """A plugin that could not be loaded; the rest keep working."""


@dataclass
class Registry:
    """Every registered dataset, model, method and executor, by kind and name."""

    items: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: {} for k in KINDS})
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Any:
        """The plugin object of ``kind`` called ``name``; a did-you-mean error otherwise."""
        table = self.items[kind]
        if name in table:
            return table[name]
        singular = kind[:-1]
        close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(table)) or "none"
        raise HarbenchError(f"unknown {singular} {name!r}.{hint} Known {kind}: {known}.")

    def names(self, kind: str) -> list[str]:
        return sorted(self.items[kind])


def _registrar(registry: Registry, kind: str, plugin_name: str, record: Registration):
    base = KINDS[kind]

    def register(obj: Any) -> None:
        if not isinstance(obj, base):
            raise TypeError(
                f"plugin {plugin_name!r} registered {obj!r} as {kind}, not a {base.__name__}"
            )
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"plugin {plugin_name!r} registered a {kind[:-1]} without a name")
        owner = registry.owners.get((kind, name))
        if owner is not None and owner != plugin_name:
            warnings.warn(
                f"{kind[:-1]} {name!r} from plugin {plugin_name!r} replaces the one from {owner!r}",
                PluginLoadWarning,
                stacklevel=2,
            )
        registry.items[kind][name] = obj
        registry.owners[(kind, name)] = plugin_name
        record.items.setdefault(kind, []).append(name)

    return register


def build_registry(extra_plugins: tuple[Any, ...] = ()) -> Registry:
    """Load every entry point of group ``harbench`` (minus blocked ones) and collect registrations.

    A plugin that fails to import or to register is reported as a warning and skipped.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    blocked = {b.strip() for b in os.environ.get(BLOCK_ENV, "").split(",") if b.strip()}
    registry = Registry()
    loaded: list[tuple[str, str, str, Any]] = []
    for ep in entry_points(group=GROUP):
        if ep.name in blocked:
            continue
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not take the rest down
            registry.failures[ep.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"harbench plugin {ep.name!r} ({dist}) failed to load and is skipped: "
                f"{type(exc).__name__}: {exc}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        loaded.append((ep.name, dist, version, module))
    for i, module in enumerate(extra_plugins):
        name = getattr(module, "__name__", f"extra{i}")
        pm.register(module, name=name)
        loaded.append((name, "(in process)", "", module))

    for plugin_name, dist, version, module in loaded:
        record = Registration(plugin=plugin_name, distribution=dist, version=version)
        for kind in KINDS:
            hook = getattr(pm.hook, f"harbench_register_{kind}")
            impls = [i for i in hook.get_hookimpls() if i.plugin is module]
            for impl in impls:
                try:
                    impl.function(register=_registrar(registry, kind, plugin_name, record))
                except Exception as exc:
                    registry.failures[plugin_name] = f"{type(exc).__name__}: {exc}"
                    warnings.warn(
                        f"harbench plugin {plugin_name!r} failed while registering {kind}: "
                        f"{type(exc).__name__}: {exc}",
                        PluginLoadWarning,
                        stacklevel=2,
                    )
        registry.registrations.append(record)
    return registry


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, built on first use."""
    return build_registry()


def get(kind: str, name: str) -> Any:
    """Shortcut for ``registry().get(kind, name)``."""
    return registry().get(kind, name)
