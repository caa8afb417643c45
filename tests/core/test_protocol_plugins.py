"""Protocols own their behaviour: the built-ins pass the plugin author's kit, the suite parser
names none of them, and a third-party protocol that pools datasets runs with no core change."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import duckdb
import pytest

from harbench import plugins
from harbench.testing import check_executor, check_protocol
from tests.datasets.test_hhar import write_hhar
from tests.helpers import REPO, harbench_env, run_cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "device_out"
PROTOCOL_PARAMS = {"fixed": {"test_subjects": [1]}, "subject_adaptation": {"targets": [1, 2]}}


@pytest.mark.parametrize("name", plugins.registry().names("protocols"))
def test_builtin_protocol_passes_the_kit(name):
    seen = check_protocol(plugins.get("protocols", name), params=PROTOCOL_PARAMS.get(name))
    assert seen["folds"] == seen["fold_count"] >= 1
    pooling = any(seen["pools"].values())
    assert pooling == (name == "lodo")  # only leave-one-dataset-out pools other datasets
    if name == "lodo":
        assert seen["pools"]["synthetic"] == ["hapt_embedded"] and seen["suite_accepted"]


def test_a_protocol_that_declares_a_source_part_must_give_every_fold_one():
    """``source_part`` lets run seeds share a seeded pretraining stage, so the kit holds a
    protocol to it: a fold without source windows is named."""
    from harbench.contracts import Fold

    base = plugins.get("protocols", "subject_groups")

    class Claims(type(base)):
        name = "claims_a_source"
        source_part = True

        def folds(self, windows, params):
            return [Fold(f.name, f.train, f.test) for f in super().folds(windows, params)]

    with pytest.raises(AssertionError, match="declares source_part = True but fold"):
        check_protocol(Claims())
    assert not base.source_part and plugins.get("protocols", "subject_adaptation").source_part


@pytest.mark.parametrize("name", ["local", "process"])
def test_builtin_executor_passes_the_kit(name):
    seen = check_executor(plugins.get("executors", name), workers=2)
    assert seen["results"] == {s: s * s for s in range(1, 6)} and seen["events"] == 10


def test_an_executor_of_the_previous_contract_still_runs_and_one_with_neither_is_named():
    from harbench.contracts import Executor

    class MapOnly(Executor):  # written against the contract where map was the method to write
        name = "map_only"

        def map(self, fn, specs, *, workers=1, events=None, settings=None):
            for spec in specs:
                yield spec, fn(spec) if events is None else fn(spec, events)

    assert check_executor(MapOnly())["results"][3] == 9

    class Neither(Executor):
        name = "neither"

    with pytest.raises(TypeError, match="'neither' implements neither session"):
        with Neither().session():
            pass


def test_the_suite_parser_names_no_protocol():
    names = set(plugins.registry().names("protocols"))
    for path in sorted((REPO / "harbench" / "suite").glob("*.py")):
        tree = ast.parse(path.read_text())
        named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)} & names
        assert not named, f"{path.name} names protocol(s) {sorted(named)}"


SUITE = """
name: device-out
defaults:
  window:
    seconds: 2
    step: 1
    harmonise:
      channels: acc
      rate_hz: 25
      label_map:
        synthetic: {class0_5hz: lying, class1_5hz: walking, class3_0hz: running,
                    class5_0hz: cycling}
  protocol:
    name: device_out
    groups: 2
    devices: {hhar: phones, synthetic: simulated}
  training: {epochs: 1, batch_size: 16}
  pretrain: {epochs: 1, batch_size: 256}
matrix:
  datasets: [hhar, synthetic]
  models: [{mae: {dim: 16, depth: 1, heads: 2, decoder_dim: 8, decoder_depth: 1, patch: 5}}]
  methods: [linear_probe]
  folds: [0]
exclude:
  - {dataset: synthetic}
"""


def _installed(tmp_path) -> Path:
    """The fixture package on a path of its own with a real entry point (a dist-info folder, as
    pip writes it), found by harbench like any installed plugin."""
    site = tmp_path / "site"
    shutil.copytree(FIXTURE / "harbench_device_out", site / "harbench_device_out")
    info = site / "harbench_device_out-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: harbench-device-out\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text("[harbench]\ndevice_out = harbench_device_out\n")
    return site


def test_a_third_party_protocol_pools_datasets_with_no_core_change(tmp_path):
    data = tmp_path / "data"
    write_hhar(data)  # HHAR's published CSVs (users a and b), written by the test
    env = harbench_env(_installed(tmp_path), HARBENCH_DATA=str(data),
                       HARBENCH_CACHE=str(tmp_path / "cache"))
    suite = tmp_path / "device_out.yaml"
    suite.write_text(SUITE)
    db = tmp_path / "d.duckdb"
    done = run_cli(["run", str(suite), "--db", str(db)], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT dataset, protocol, status, config FROM runs").fetchall()
    pretrain_epochs = con.execute("SELECT count(*) FROM curves WHERE stage = 'pretrain'").fetchone()
    con.close()
    assert [(d, p, s) for d, p, s, _ in rows] == [("hhar", "device_out", "ok")]
    assert '"datasets": ["synthetic"]' in rows[0][3]  # the stage pooled the other device's data
    assert pretrain_epochs == (1,)


def test_a_third_party_protocols_suite_check_is_located(tmp_path):
    env = harbench_env(_installed(tmp_path), HARBENCH_DATA=str(tmp_path / "data"))
    suite = tmp_path / "bad.yaml"
    suite.write_text(SUITE.replace("devices: {hhar: phones, synthetic: simulated}",
                                   "devices: {hhar: phones}"))
    checked = run_cli(["validate", str(suite)], env=env, cwd=tmp_path)
    err = " ".join(checked.stderr.split())
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "bad.yaml, line 16, key 'defaults.protocol.devices'" in err
    assert "names no device for ['synthetic']" in err and "Traceback" not in err


def test_a_protocol_that_pools_a_dataset_outside_the_matrix_is_refused_at_validate(monkeypatch):
    from harbench import suite
    from harbench.suite import SuiteError

    lodo = plugins.get("protocols", "lodo")

    class Greedy(type(lodo)):
        def pools(self, held_out, datasets, params):
            return ["wisdm"]  # not in the matrix: the stage would pool data nobody asked for

    greedy, real_get = Greedy(), plugins.get
    monkeypatch.setattr(plugins, "get", lambda kind, name: greedy if (kind, name) == (
        "protocols", "lodo") else real_get(kind, name))
    text = SUITE.replace("name: device_out", "name: lodo").replace(
        "    groups: 2\n    devices: {hhar: phones, synthetic: simulated}\n", "")
    with pytest.raises(SuiteError, match=r"answered pools\('hhar'\) with \['wisdm'\]"):
        suite.loads(text, "greedy.yaml")
