"""Plugin discovery through real entry points: built-ins, third parties, failures, blocking."""

from __future__ import annotations

import sys
import warnings

import pytest

from harbench import plugins
from harbench.contracts import HarbenchError
from tests.helpers import write_plugin_dist

GOOD = """
from harbench.contracts import MethodPlugin
from harbench.hookspecs import hookimpl


class Frozen(MethodPlugin):
    name = "frozen_everything"

    def adapt(self, model, **params):
        return model


@hookimpl
def harbench_register_methods(register):
    register(Frozen())
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield path
    for name in ("tp_good", "tp_broken"):
        sys.modules.pop(name, None)


def test_builtins_are_found_through_the_entry_point_group():
    registry = plugins.build_registry()
    dists = {r.plugin: r.distribution for r in registry.registrations}
    assert {"datasets", "models", "methods", "executors"} <= set(dists)
    assert {dists[k] for k in ("datasets", "models", "methods", "executors")} == {"harbench"}
    assert {"hapt_embedded", "synthetic"} <= set(registry.names("datasets"))
    assert {"full", "linear_probe", "lora"} <= set(registry.names("methods"))
    assert "tinierhar" in registry.names("models")
    assert {"local", "process"} <= set(registry.names("executors"))


def test_third_party_plugin_registers_and_a_broken_one_only_warns(site):
    write_plugin_dist(site, "tp-good", {"tp_good": GOOD}, {"tp_good": "tp_good"})
    write_plugin_dist(
        site,
        "tp-broken",
        {"tp_broken": "import not_a_real_module_xyz\n"},
        {"tp_broken": "tp_broken"},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = plugins.build_registry()
    assert "frozen_everything" in registry.names("methods")
    owner = next(r for r in registry.registrations if r.plugin == "tp_good")
    assert owner.distribution == "tp-good" and owner.items == {"methods": ["frozen_everything"]}
    messages = [str(w.message) for w in caught]
    assert any("tp_broken" in m and "not_a_real_module_xyz" in m for m in messages)
    assert "tp_broken" in registry.failures
    assert "lora" in registry.names("methods")  # the rest keeps working


def test_environment_variable_blocks_named_plugins(site, monkeypatch):
    write_plugin_dist(site, "tp-good", {"tp_good": GOOD}, {"tp_good": "tp_good"})
    monkeypatch.setenv(plugins.BLOCK_ENV, "tp_good, methods")
    registry = plugins.build_registry()
    assert "frozen_everything" not in registry.names("methods")
    assert "lora" not in registry.names("methods")
    assert "tinierhar" in registry.names("models")


def test_unknown_name_gets_did_you_mean():
    with pytest.raises(HarbenchError, match="unknown method 'lroa'. Did you mean 'lora'"):
        plugins.get("methods", "lroa")


def _in_process_plugin(module_name: str, distribution: str, method_name: str, version: str):
    """A plugin module made in process that registers one method called ``method_name``."""
    import types

    from harbench.contracts import MethodPlugin
    from harbench.hookspecs import hookimpl

    class Method(MethodPlugin):
        name = method_name

        def adapt(self, model, **params):
            return model

    Method.version = version

    @hookimpl
    def harbench_register_methods(register):
        register(Method())

    module = types.ModuleType(module_name)
    module.harbench_register_methods = harbench_register_methods
    module.harbench_distribution = distribution
    return module


def test_two_plugins_with_one_name_is_an_error_naming_both_distributions():
    first = _in_process_plugin("acme_methods", "acme-har", "shared_name", "1")
    second = _in_process_plugin("other_methods", "other-har", "shared_name", "1")
    with pytest.raises(HarbenchError) as caught:
        plugins.build_registry(extra_plugins=(first, second))
    message = str(caught.value)
    assert "method 'shared_name'" in message
    assert "'acme-har'" in message and "'other-har'" in message
    assert "HARBENCH_BLOCK_PLUGINS" in message


def test_a_plugin_that_overrides_a_builtin_name_is_refused_until_one_is_blocked(monkeypatch):
    clash = _in_process_plugin("acme_lora", "acme-har", "lora", "7")
    with pytest.raises(HarbenchError, match="method 'lora' is registered by plugin 'methods'"):
        plugins.build_registry(extra_plugins=(clash,))
    monkeypatch.setenv(plugins.BLOCK_ENV, "methods")  # the user chooses the third-party one
    registry = plugins.build_registry(extra_plugins=(clash,))
    assert registry.provenance("methods", "lora") == {
        "name": "lora",
        "plugin": "acme_lora",
        "distribution": "acme-har",
        "distribution_version": "",
        "version": "7",
    }


def test_version_of_reads_loader_version_for_datasets_and_version_otherwise():
    dataset = plugins.get("datasets", "hapt_embedded")
    assert plugins.version_of("datasets", "hapt_embedded") == str(dataset.loader_version)
    assert plugins.version_of("methods", "lora") == str(plugins.get("methods", "lora").version)
    found = plugins.provenance("models", "tinierhar")
    assert found["distribution"] == "harbench" and found["plugin"] == "models"
    assert found["version"] == plugins.version_of("models", "tinierhar")
    assert plugins.provenance("models", "no_such_model") is None
