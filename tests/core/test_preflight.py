"""Before any run: a dataset on disk without every file a run or a pretraining stage reads is
refused, naming the dataset, who reads it and the subjects that are whole on disk."""

from __future__ import annotations

import re

import pytest

from harbench import cli, coordinator, suite
from harbench.contracts import HarbenchError
from harbench.data import preflight
from tests.datasets.test_motionsense import COLUMNS

TRIALS = {"dws": (1, 2, 11), "ups": (3, 4, 12), "wlk": (7, 8, 15), "jog": (9, 16),
          "sit": (5, 13), "std": (6, 14)}

PLAIN = """
name: preflight
defaults:
  protocol: {name: subject_groups, groups: 3}
  training: {epochs: 1, batch_size: 32}
matrix:
  datasets: [DATASETS]
  models: [{tinierhar: {filters: 4, hidden: 8}}]
  methods: [full]
  folds: [0]
"""

LODO = """
name: preflight-lodo
defaults:
  window: {seconds: 2, step: 1, harmonise: {channels: acc_gyro, rate_hz: 50}}
  protocol: {name: lodo, inner: {name: subject_groups, groups: 3}}
  training: {epochs: 1, batch_size: 32}
  pretrain: {epochs: 1, batch_size: 64, seed: 0}
matrix:
  datasets: [hapt_embedded, MOTIONSENSE]
  models: [{mae: {dim: 16, depth: 1, heads: 2, decoder_dim: 8, decoder_depth: 1, patch: 5}}]
  methods: [linear_probe]
  folds: [0]
"""


def write_people(data_root, people):
    """MotionSense's published layout (A_DeviceMotion_data/<act>_<trial>/sub_<n>.csv) for
    ``people`` only: a copy of some subjects, like ../shared/data/real/motionsense."""
    base = data_root / "motionsense" / "A_DeviceMotion_data"
    for act, trials in TRIALS.items():
        for trial in trials:
            folder = base / f"{act}_{trial}"
            folder.mkdir(parents=True, exist_ok=True)
            for person in people:
                rows = ["," + ",".join(COLUMNS)]
                rows += [",".join([str(i)] + [f"{0.01 * (i % 7):.6f}"] * 12) for i in range(150)]
                (folder / f"sub_{person}.csv").write_text("\n".join(rows) + "\n")


def test_a_dataset_with_people_missing_is_refused_before_any_run(data_root, tmp_path, capsys):
    write_people(data_root, [1, 2, 3])
    path = tmp_path / "p.yaml"
    path.write_text(PLAIN.replace("DATASETS", "motionsense"))
    db = tmp_path / "p.duckdb"
    with pytest.raises(HarbenchError) as caught:
        coordinator.run_suite(path, db=db)
    message = " ".join(str(caught.value).split())
    assert "dataset 'motionsense' (evaluated in matrix.datasets, all subjects)" in message
    assert "315 of 360 raw files missing: A_DeviceMotion_data/" in message
    shown = re.findall(r"sub_(\d+)\.csv", message)
    assert shown and all(int(n) > 3 for n in shown)
    assert "{motionsense: {subjects: [1, 2, 3]}}" in message
    assert not db.exists()  # refused before the store was opened: nothing written

    assert cli.main(["validate", str(path)]) == 0  # validate warns, run refuses
    assert "warning: dataset 'motionsense'" in " ".join(capsys.readouterr().out.split())

    path.write_text(PLAIN.replace("DATASETS", "{motionsense: {subjects: [1, 2, 3]}}"))
    assert preflight.problems(suite.load(path).expand()) == []


def test_a_pooled_dataset_missing_people_is_named_with_the_held_out_one(data_root):
    write_people(data_root, [1, 2, 3])
    pooled = suite.loads(LODO.replace("MOTIONSENSE", "motionsense"), "l.yaml").expand()
    (problem,) = preflight.problems(pooled)
    assert problem.startswith("dataset 'motionsense' (pooled by the pretraining stage while "
                              "'hapt_embedded' is held out, all subjects)")
    restricted = LODO.replace("MOTIONSENSE", "{motionsense: {subjects: [1, 2, 3]}}")
    assert preflight.problems(suite.loads(restricted, "l.yaml").expand()) == []


def test_a_dataset_not_fetched_is_left_to_its_runs(data_root):
    """Not on disk at all: each run fails with "not present" (or the suite skips it), as before."""
    specs = suite.loads(PLAIN.replace("DATASETS", "motionsense"), "p.yaml").expand()
    assert preflight.problems(specs) == []
