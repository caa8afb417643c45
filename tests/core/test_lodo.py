"""Leave-one-dataset-out: expansion, and one real held-out run with harmonised pretraining."""

from __future__ import annotations

import duckdb
import pytest

from harbench import coordinator, suite
from harbench.suite import SuiteError

LODO = """
name: lodo
defaults:
  window:
    seconds: 2
    step: 1
    harmonise:
      channels: acc
      rate_hz: 25
      label_map:
        synthetic:
          class0_5hz: lying
          class1_5hz: walking
          class3_0hz: running
          class5_0hz: cycling
  protocol: {name: lodo, inner: {name: subject_groups, groups: 3}}
  training: {epochs: 1, batch_size: 64}
  pretrain: {epochs: 1, batch_size: 256}
matrix:
  datasets: [synthetic, hapt_embedded]
  models: [{mae: {dim: 16, depth: 1, heads: 2, decoder_dim: 8, decoder_depth: 1, patch: 5}}]
  methods: [linear_probe]
  folds: [0]
"""


def test_lodo_pretrains_on_every_other_dataset():
    specs = suite.loads(LODO, "lodo.yaml").expand()
    by_dataset = {s.dataset: s for s in specs}
    assert by_dataset["synthetic"].pretrain["datasets"] == ["hapt_embedded"]
    assert by_dataset["hapt_embedded"].pretrain["datasets"] == ["synthetic"]
    inner = {"name": "lodo", "inner": {"name": "subject_groups", "groups": 3}}
    assert all(s.protocol == inner for s in specs)


def test_lodo_without_a_pretraining_stage_is_refused():
    text = LODO.replace("  pretrain: {epochs: 1, batch_size: 256}\n", "")
    with pytest.raises(SuiteError, match="protocol lodo pretrains on every dataset but"):
        suite.loads(text, "lodo.yaml")


def test_bad_harmonisation_is_located():
    with pytest.raises(SuiteError, match="key 'defaults.window.harmonise'.*unknown channel set"):
        suite.loads(LODO.replace("channels: acc", "channels: accel"), "lodo.yaml")


def test_held_out_dataset_run_uses_a_checkpoint_pretrained_on_the_others(tmp_path):
    path = tmp_path / "lodo.yaml"
    path.write_text(LODO + "exclude:\n  - {dataset: hapt_embedded}\n")
    summary = coordinator.run_suite(path, db=tmp_path / "l.duckdb")
    assert (summary.ok, summary.failed) == (1, 0)
    con = duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True)
    protocol, config = con.execute("SELECT protocol, config FROM runs").fetchone()
    pretrain_epochs = con.execute("SELECT count(*) FROM curves WHERE stage = 'pretrain'").fetchone()
    channels = con.execute("SELECT value FROM metrics WHERE name = 'window_samples'").fetchone()
    con.close()
    assert protocol == "lodo" and '"datasets": ["hapt_embedded"]' in config
    assert pretrain_epochs == (1,)
    assert channels == (50,)  # 2 s at the harmonised 25 Hz


@pytest.mark.parametrize("pair", [("uci", "hapt"), ("hapt_embedded", "uci")])
def test_lodo_over_datasets_sharing_recordings_exits_2_naming_the_pair(tmp_path, capsys, pair):
    from harbench import cli

    path = tmp_path / "leak.yaml"
    path.write_text(LODO.replace("[synthetic, hapt_embedded]", f"[{pair[0]}, {pair[1]}]"))
    assert cli.main(["validate", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "leak.yaml, line 20, key 'matrix.datasets.0'" in err
    assert f"held-out dataset '{pair[0]}' and pretraining dataset '{pair[1]}' share" in err


def test_an_explicit_pretraining_dataset_sharing_recordings_is_refused():
    text = LODO.replace("protocol: {name: lodo, inner: {name: subject_groups, groups: 3}}",
                        "protocol: {name: subject_groups, groups: 3}")
    text = text.replace("pretrain: {epochs: 1, batch_size: 256}",
                        "pretrain: {epochs: 1, batch_size: 256, datasets: [uci]}")
    with pytest.raises(SuiteError, match="'hapt_embedded' and pretraining dataset 'uci' share"):
        suite.loads(text, "lodo.yaml")


def test_a_pooled_dataset_keeps_the_subjects_the_matrix_restricts_it_to(monkeypatch, tmp_path):
    """matrix.datasets [{hapt_embedded: {subjects: [1, 2, 3]}}]: when synthetic is held out, the
    stage pools hapt_embedded's subjects 1-3 only (a data root holding only those people would
    otherwise fail on the missing files), and the subset is part of the stage's key."""
    from harbench import pretrain
    from tests.helpers import capture_supervised_subjects

    restricted = LODO.replace("[synthetic, hapt_embedded]",
                              "[synthetic, {hapt_embedded: {subjects: [1, 2, 3]}}]")
    restricted = restricted.replace("pretrain: {epochs: 1, batch_size: 256}",
                                    "pretrain: {objective: supervised, epochs: 1, batch_size: 256}")
    held_out = {s.dataset: s for s in suite.loads(restricted, "lodo.yaml").expand()}["synthetic"]
    assert held_out.pretrain["datasets"] == ["hapt_embedded"]
    assert held_out.pretrain["dataset_subjects"] == {"hapt_embedded": [1, 2, 3]}
    unrestricted = {s.dataset: s for s in suite.loads(
        LODO.replace("pretrain: {epochs: 1, batch_size: 256}",
                     "pretrain: {objective: supervised, epochs: 1, batch_size: 256}"),
        "lodo.yaml").expand()}["synthetic"]
    assert "dataset_subjects" not in unrestricted.pretrain
    assert pretrain.stage_key(held_out) != pretrain.stage_key(unrestricted)

    seen = capture_supervised_subjects(monkeypatch)
    path = tmp_path / "lodo.yaml"
    path.write_text(restricted + "exclude:\n  - {dataset: hapt_embedded}\n")
    summary = coordinator.run_suite(path, db=tmp_path / "l.duckdb")
    assert (summary.ok, summary.failed) == (1, 0)
    assert len(seen) == 1
    assert sorted({int(s) % 1_000_000 for s in seen[0]}) == [1, 2, 3]
