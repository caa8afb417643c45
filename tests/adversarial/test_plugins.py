"""A plugin cannot take the process down in silence: sys.exit and other BaseExceptions at import
are reported like any broken plugin, the warning is printed once per suite, and a name clash is
an error about the installed plugins, never about a line of the suite."""

from __future__ import annotations

import os
import sys
import types
import warnings

import pytest

from harbench import plugins, suite
from harbench.contracts import MethodPlugin
from harbench.hookspecs import hookimpl
from tests.adversarial.conftest import TINY_SUITE
from tests.helpers import harbench_env, run_cli, write_plugin_dist


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.delenv(plugins.WARNED_ENV, raising=False)
    yield path
    for name in ("tp_exits", "tp_base"):
        sys.modules.pop(name, None)


def load_quietly() -> tuple[plugins.Registry, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = plugins.build_registry()
    return registry, [str(w.message) for w in caught if w.category is plugins.PluginLoadWarning]


def test_sys_exit_at_import_is_reported_and_the_rest_loads(site):
    write_plugin_dist(site, "tp-exits", {"tp_exits": "import sys\nsys.exit(0)\n"},
                      {"tp_exits": "tp_exits"})
    registry, messages = load_quietly()
    assert registry.failures["tp_exits"].startswith("SystemExit")
    assert any("'tp_exits'" in m and "SystemExit" in m for m in messages)
    assert "lora" in registry.names("methods")


def test_a_base_exception_at_import_is_reported_but_ctrl_c_is_not_swallowed(site):
    write_plugin_dist(site, "tp-base", {"tp_base": "raise GeneratorExit('odd')\n"},
                      {"tp_base": "tp_base"})
    registry, _ = load_quietly()
    assert "GeneratorExit" in registry.failures["tp_base"]
    sys.modules.pop("tp_base", None)
    (site / "tp_base.py").write_text("raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        plugins.build_registry()


def test_harbench_run_with_a_plugin_calling_sys_exit_reports_it_and_still_runs(site, tmp_path):
    write_plugin_dist(site, "tp-exits", {"tp_exits": "import sys\nsys.exit(0)\n"},
                      {"tp_exits": "tp_exits"})
    path = tmp_path / "s.yaml"
    path.write_text(TINY_SUITE.format(name="exits", methods="full", seeds="0"))
    env = harbench_env(site, HARBENCH_CACHE=os.environ["HARBENCH_CACHE"])
    done = run_cli(["run", str(path), "--db", str(tmp_path / "r.duckdb"), "--no-leaderboard"],
                   env=env, cwd=tmp_path)
    assert "tp_exits" in done.stderr and "SystemExit" in done.stderr
    assert done.returncode == 0, done.stderr
    assert "1 ok" in done.stdout
    assert (tmp_path / "r.duckdb").is_file()


def test_the_import_warning_is_printed_once_per_suite_not_per_worker(site, monkeypatch):
    write_plugin_dist(site, "tp-exits", {"tp_exits": "import sys\nsys.exit(3)\n"},
                      {"tp_exits": "tp_exits"})
    plugins.registry.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plugins.registry()  # the coordinator's process warns ...
    finally:
        plugins.registry.cache_clear()
    assert any("tp_exits" in str(w.message) for w in caught)
    assert os.environ[plugins.WARNED_ENV] == str(os.getpid())
    monkeypatch.setenv(plugins.WARNED_ENV, "1")  # ... a worker it started (another pid) does not
    sys.modules.pop("tp_exits", None)
    registry, again = load_quietly()
    assert again == [] and "tp_exits" in registry.failures


def _method_module(module_name: str, method_name: str) -> types.ModuleType:
    class Clash(MethodPlugin):
        name = method_name

        def adapt(self, model, **params):
            return model

    @hookimpl
    def harbench_register_methods(register):
        register(Clash())

    module = types.ModuleType(module_name)
    module.harbench_register_methods = harbench_register_methods
    module.harbench_distribution = module_name + "-dist"
    return module


def test_a_plugin_name_clash_points_at_the_plugins_not_a_suite_line(monkeypatch):
    clash = _method_module("acme_lora", "lora")
    monkeypatch.setattr(plugins, "registry",
                        lambda: plugins.build_registry(extra_plugins=(clash,)))
    with pytest.raises(plugins.PluginConflictError) as caught:
        suite.loads(TINY_SUITE.format(name="clash", methods="lora", seeds="0"), "s.yaml")
    message = str(caught.value)
    assert "installed plugins conflict" in message and "acme_lora-dist" in message
    assert "line" not in message and "s.yaml" not in message
