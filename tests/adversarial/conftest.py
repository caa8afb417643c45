"""Shared pieces of the adversarial tests: a tiny suite, in-process plugins, a private cache."""

from __future__ import annotations

import types

import pytest

from harbench import plugins
from harbench.hookspecs import hookimpl

TINY_SUITE = """
name: {name}
defaults:
  protocol: {{name: subject_groups, groups: 3}}
  training: {{epochs: 1, batch_size: 32, patience: 1}}
matrix:
  datasets: [synthetic]
  models: [{{tinierhar: {{filters: 4, hidden: 8}}}}]
  methods: [{methods}]
  seeds: [{seeds}]
  folds: [0]
"""


def tiny_suite(tmp_path, *, name: str = "hostile", methods: str = "full", seeds: str = "0"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(TINY_SUITE.format(name=name, methods=methods, seeds=seeds))
    return path


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A cache folder of this test alone (entries written here are corrupted on purpose)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("HARBENCH_CACHE", str(cache))
    return cache


def in_process_methods(*methods) -> types.ModuleType:
    """A plugin module registering ``methods`` (MethodPlugin instances)."""

    @hookimpl
    def harbench_register_methods(register):
        for method in methods:
            register(method)

    module = types.ModuleType("hostile_methods")
    module.harbench_register_methods = harbench_register_methods
    return module


@pytest.fixture
def with_plugins(monkeypatch):
    """Make the process-wide registry include extra in-process plugin modules."""

    def install(*modules):
        registry = plugins.build_registry(extra_plugins=modules)
        monkeypatch.setattr(plugins, "registry", lambda: registry)
        return registry

    return install
