"""Plugin rooms (issue 23): a method is one folder, typed parameters, derived values stored with
the run's config, and plugins of the previous contract still running with a DeprecationWarning."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import warnings

import duckdb
import pytest

import harbench_methods
from harbench import blocks, compat, plugins
from harbench.contracts import PLUGIN_API
from harbench.settings import PluginParams, is_params_record, resolve_plugin_params
from harbench.testing import check_method
from tests.helpers import REPO, harbench_env, run_cli, write_plugin_dist

FIXTURES = REPO / "tests" / "fixtures"
ROOM = FIXTURES / "new_method_room" / "head_scale"
LEGACY = FIXTURES / "legacy_plugin" / "harbench_legacy_v1.py"

TINY = """
name: {name}
defaults:
  training: {{epochs: 1, batch_size: 32, patience: 1}}
matrix:
  datasets: [synthetic]
  models: [{models}]
  methods: [{methods}]
  seeds: [0]
  folds: [0]
"""


def stored_runs(db):
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT method_label, status, config FROM runs ORDER BY method_label")
    out = [(label, status, json.loads(config)) for label, status, config in rows.fetchall()]
    con.close()
    return out


def load_room():
    spec = importlib.util.spec_from_file_location("head_scale_room", ROOM / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_the_new_method_fixture_is_one_folder_with_a_typed_record():
    assert [p.name for p in ROOM.parent.iterdir()] == ["head_scale"]
    room = load_room()
    (plugin_class,) = room.PLUGINS
    assert is_params_record(plugin_class.params) and issubclass(plugin_class.params, PluginParams)
    assert plugin_class.defaults == {"init": 1.0}  # derived from the record
    seen = check_method(plugin_class(), model="convnet1d", init=0.5)
    assert 0 < seen["trainable"] < seen["params"] and seen["merge_gap"] < 1e-4


def test_dropping_the_folder_into_the_methods_package_registers_and_runs_it(tmp_path):
    """A copy of the built-in methods package plus the one new folder, found through the real
    ``harbench`` entry point (the copy shadows the installed package): no other file edited."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "plugins" / "harbench_methods", site / "harbench_methods",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOM, site / "harbench_methods" / "head_scale")
    suite = tmp_path / "room.yaml"
    suite.write_text(TINY.format(name="room", models="{convnet1d: {width: 8, depth: 2}}",
                                 methods="{head_scale: {init: 0.5}}"))
    db = tmp_path / "room.duckdb"
    done = run_cli(["run", str(suite), "--db", str(db)], env=harbench_env(site), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [(label, status, config)] = stored_runs(db)
    assert (label, status) == ("head_scale(init=0.5)", "ok")
    assert config["method_params"] == {"init": 0.5}


def test_a_lora_run_stores_its_resolved_alpha(tmp_path):
    """``alpha`` null resolves to 2 * r where the spec is made: the stored config holds it, and
    the label (computed from the resolved parameters) leaves the implied value out."""
    suite = tmp_path / "lora.yaml"
    suite.write_text(TINY.format(name="alpha", models="{tinierhar: {filters: 4, hidden: 8}}",
                                 methods="{lora: {r: [2, 4]}}, {lora: {r: 4, alpha: 4}}"))
    db = tmp_path / "lora.duckdb"
    done = run_cli(["run", str(suite), "--db", str(db)], env=harbench_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = {label: (status, config["method_params"]) for label, status, config in stored_runs(db)}
    assert set(runs) == {"lora(r=2)", "lora(r=4)", "lora(alpha=4,r=4)"}
    assert all(status == "ok" for status, _ in runs.values())
    assert runs["lora(r=2)"][1]["alpha"] == 4
    assert runs["lora(r=4)"][1]["alpha"] == 8
    assert runs["lora(alpha=4,r=4)"][1]["alpha"] == 4


def test_derived_values_are_resolved_once_and_idempotently():
    once = resolve_plugin_params("methods", "adalora", {"init_r": 6})
    assert once["alpha"] == 12
    assert resolve_plugin_params("methods", "adalora", once) == once
    assert resolve_plugin_params("methods", "lora", {"rslora": True})["alpha"] == 16


@pytest.fixture()
def legacy_registry(monkeypatch):
    spec = importlib.util.spec_from_file_location("harbench_legacy_v1", LEGACY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry = plugins.build_registry(extra_plugins=(module,))
    monkeypatch.setattr(plugins, "registry", lambda: registry)
    return registry


def test_a_plugin_of_the_previous_contract_runs_with_warnings_naming_the_rename(legacy_registry):
    assert PLUGIN_API == 2
    with pytest.warns(DeprecationWarning, match=r"legacy_net.*`defaults`.*PluginParams"):
        model = blocks.build_model("legacy_net", channels=3, window=16, classes=4)
    assert model.conv1.out_channels == 8
    with pytest.warns(DeprecationWarning, match=r"adapt\(model, \*\*params\).*info\.head"):
        adapted = blocks.adapt(model, "legacy_head_bias")
    trainable = {n for n, p in adapted.named_parameters() if p.requires_grad}
    assert trainable == {"conv1.bias", "conv2.bias", "head.weight", "head.bias"}
    with pytest.warns(DeprecationWarning):
        fresh = blocks.build_model("legacy_net", channels=3, window=16, classes=4, width=4)
    with pytest.warns(DeprecationWarning, match=r"legacy_last.*adapt\(model, info, params\)"):
        last = blocks.adapt(fresh, "legacy_last", n=2)
    assert {n for n, p in last.named_parameters() if p.requires_grad} == {
        "conv2.weight", "conv2.bias", "head.weight", "head.bias"}


def test_a_model_declaring_only_the_adapter_family_still_validates(legacy_registry):
    """The previous contract's `targets = {"adapter": (...)}` no longer fails with "declares no
    conv layer": it validates with a warning that says which families to declare."""
    model, method = plugins.get("models", "legacy_net"), plugins.get("methods", "lora_edge")
    with pytest.warns(DeprecationWarning, match=r"only the target family 'adapter'.*'conv'"):
        assert compat.incompatibility(model, method, {}) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        built = blocks.build_model("legacy_net", channels=3, window=16, classes=4)
    adapted = blocks.adapt(built, "lora_edge", rank=1)
    wrapped = {n for n, m in adapted.named_modules() if type(m).__name__ == "TTConvUpdate"}
    assert wrapped == {"conv1", "conv2"}


def test_the_previous_contract_runs_a_suite_through_real_entry_points(tmp_path):
    site = write_plugin_dist(tmp_path / "site", "harbench-legacy", {
        "harbench_legacy_v1": LEGACY.read_text()}, {"legacy": "harbench_legacy_v1"})
    suite = tmp_path / "legacy.yaml"
    suite.write_text(TINY.format(name="legacy", models="legacy_net",
                                 methods="legacy_head_bias, {legacy_last: {n: 2}}, lora_edge"))
    db = tmp_path / "legacy.duckdb"
    done = run_cli(["run", str(suite), "--db", str(db)], env=harbench_env(site), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    stored = {label: status for label, status, _ in stored_runs(db)}
    assert stored == {"legacy_head_bias": "ok", "legacy_last(n=2)": "ok", "lora_edge": "ok"}


def test_registration_walks_the_package_skips_helpers_and_imports_no_torch():
    rooms = {room.__name__.rsplit(".", 1)[-1] for room in harbench_methods.rooms()}
    assert {"lora_edge", "qlora", "adalora", "full"} <= rooms
    assert not any(name.startswith("_") for name in rooms)
    code = ("import sys, harbench_methods, harbench_models\n"
            "harbench_methods.rooms(); harbench_models.rooms()\n"
            "print(sorted(m for m in ('torch', 'peft', 'tensorly') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
