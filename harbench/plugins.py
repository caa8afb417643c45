"""The plugin manager: loads entry points, holds the registries, answers lookups by name."""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Iterable
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
    ProtocolPlugin,
    Registration,
)

GROUP = "harbench"
BLOCK_ENV = "HARBENCH_BLOCK_PLUGINS"  # comma-separated entry-point names not to load
# Set by the process that reported a broken plugin: the workers it starts inherit it and stay
# quiet, so the warning is printed once per suite, not once per worker.
WARNED_ENV = "HARBENCH_PLUGIN_WARNED"

KINDS: dict[str, type] = {
    "datasets": DatasetPlugin,
    "models": ModelPlugin,
    "methods": MethodPlugin,
    "executors": Executor,
    "protocols": ProtocolPlugin,
}


class PluginLoadWarning(UserWarning):
    """A plugin that could not be loaded; the rest keep working."""


class PluginConflictError(HarbenchError):
    """Two plugins register the same name: an error about the installed plugins, not a suite."""


def _caught(exc: BaseException) -> bool:
    """Whether a plugin's exception is reported and skipped: everything but Ctrl-C (a plugin
    calling ``sys.exit`` at import must not end the process with its own code, in silence)."""
    return not isinstance(exc, KeyboardInterrupt)


def _warn(message: str) -> None:
    """A PluginLoadWarning, unless the process that started this one already printed it."""
    if os.environ.get(WARNED_ENV, str(os.getpid())) != str(os.getpid()):
        return
    warnings.warn(message, PluginLoadWarning, stacklevel=3)


def _mark_warned(registry: Registry) -> None:
    if registry.failures:
        os.environ.setdefault(WARNED_ENV, str(os.getpid()))


@dataclass
class Registry:
    """Every registered dataset, model, method and executor, by kind and name."""

    items: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: {} for k in KINDS})
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    providers: dict[tuple[str, str], Registration] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
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

    def provenance(self, kind: str, name: str) -> dict[str, str] | None:
        """Who provides ``name``: plugin, distribution, its version, and the plugin's version."""
        record = self.providers.get((kind, name))
        if record is None:
            return None
        return {
            "name": name,
            "plugin": record.plugin,
            "distribution": record.distribution,
            "distribution_version": record.version,
            "version": plugin_version(kind, self.items[kind][name]),
        }


def plugin_version(kind: str, obj: Any) -> str:
    """A dataset's ``loader_version``; every other plugin's ``version`` ("" when undeclared)."""
    value = getattr(obj, "loader_version" if kind == "datasets" else "version", "")
    return str(value)


def _describe(record: Registration) -> str:
    version = f" {record.version}" if record.version else ""
    return f"plugin {record.plugin!r} of distribution {record.distribution!r}{version}"


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
        holder = registry.providers.get((kind, name))
        if holder is not None and holder.plugin != plugin_name:
            registry.conflicts.append(
                f"{kind[:-1]} {name!r} is registered by {_describe(holder)} and by "
                f"{_describe(record)}"
            )
            return
        registry.items[kind][name] = obj
        registry.owners[(kind, name)] = plugin_name
        registry.providers[(kind, name)] = record
        if name not in record.items.get(kind, []):
            record.items.setdefault(kind, []).append(name)

    return register


def build_registry(extra_plugins: tuple[Any, ...] = ()) -> Registry:
    """Load every entry point of group ``harbench`` (minus blocked ones) and collect registrations.

    A plugin that fails to import or to register is reported as a warning and skipped. Two
    plugins registering the same name is an error naming both (block one with
    ``HARBENCH_BLOCK_PLUGINS``). ``extra_plugins``: modules or objects registered in process
    (their ``__name__`` is the plugin name; ``harbench_distribution`` their distribution).
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
        except BaseException as exc:  # a broken third-party plugin must not take the rest down
            if not _caught(exc):
                raise
            registry.failures[ep.name] = f"{type(exc).__name__}: {exc}"
            _warn(
                f"harbench plugin {ep.name!r} ({dist}) failed to load and is skipped: "
                f"{type(exc).__name__}: {exc}"
            )
            continue
        loaded.append((ep.name, dist, version, module))
    for i, module in enumerate(extra_plugins):
        name = getattr(module, "__name__", f"extra{i}")
        pm.register(module, name=name)
        dist = getattr(module, "harbench_distribution", "(in process)")
        loaded.append((name, dist, "", module))

    for plugin_name, dist, version, module in loaded:
        record = Registration(plugin=plugin_name, distribution=dist, version=version)
        for kind in KINDS:
            hook = getattr(pm.hook, f"harbench_register_{kind}")
            impls = [i for i in hook.get_hookimpls() if i.plugin is module]
            for impl in impls:
                try:
                    impl.function(register=_registrar(registry, kind, plugin_name, record))
                except BaseException as exc:
                    if not _caught(exc):
                        raise
                    registry.failures[plugin_name] = f"{type(exc).__name__}: {exc}"
                    _warn(
                        f"harbench plugin {plugin_name!r} failed while registering {kind}: "
                        f"{type(exc).__name__}: {exc}"
                    )
        registry.registrations.append(record)
    if registry.conflicts:
        raise PluginConflictError(
            "installed plugins conflict (not a problem of the suite): two plugins provide the "
            "same name: "
            + "; ".join(registry.conflicts)
            + f". Choose one by blocking the other: {BLOCK_ENV}=<plugin name> "
            "(a comma-separated list of entry-point names)."
        )
    return registry


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, built on first use (the workers this process starts then
    leave its plugin warnings unprinted: one report per suite)."""
    built = build_registry()
    _mark_warned(built)
    return built


def get(kind: str, name: str) -> Any:
    """Shortcut for ``registry().get(kind, name)``."""
    return registry().get(kind, name)


def version_of(kind: str, name: str) -> str:
    """The version of plugin ``name`` of ``kind`` that results depend on: a dataset's
    ``loader_version``, a model's, method's, protocol's or executor's ``version``."""
    return plugin_version(kind, get(kind, name))


def versions(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{"kind:name": version}`` for each (kind, name) pair."""
    return {f"{kind}:{name}": version_of(kind, name) for kind, name in pairs}


def provenance(kind: str, name: str) -> dict[str, str] | None:
    """Which plugin and distribution provide ``name`` (None when unknown), with versions."""
    reg = registry()
    if kind not in reg.items:
        return None
    return reg.provenance(kind, name)
