"""Corrupted caches are never used: each entry is checked against its checksums, reported with
the file's name, discarded and rebuilt, so the run scores what a clean run scores."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from harbench import checksums, cli, coordinator, suite
from harbench.data.load import load_windows
from harbench.runner import run_one
from harbench.store import Store
from tests.adversarial.conftest import tiny_suite

MAE_PRETRAIN = """
name: hostile-pretrain
defaults:
  protocol: {name: subject_groups, groups: 3}
  training: {epochs: 1, batch_size: 32, patience: 1}
  pretrain: {objective: mae, epochs: 1, batch_size: 32}
matrix:
  datasets: [synthetic]
  models: [{mae: {dim: 32, depth: 2, heads: 2, patch: 10}}]
  methods: [linear_probe]
  seeds: [0]
  folds: [0]
"""


def scored(result) -> tuple[float, float]:
    assert result.status == "ok", result.error
    return result.metrics["macro_f1"], result.metrics["test_loss"]


def stored_scores(db) -> dict[str, tuple]:
    """run_id -> (status, macro_f1, test_loss) as the store holds them."""
    with Store(db, read_only=True) as store:
        _, rows = store.query(
            "SELECT r.run_id, r.status, f.value, l.value FROM runs r "
            "LEFT JOIN metrics f ON f.run_id = r.run_id AND f.name = 'macro_f1' "
            "LEFT JOIN metrics l ON l.run_id = r.run_id AND l.name = 'test_loss'")
    return {r[0]: tuple(r[1:]) for r in rows}


def overwrite_middle(path, fill: bytes = b"\x00") -> None:
    """Change bytes in the middle of ``path`` in place; its size stays the same."""
    data = bytearray(path.read_bytes())
    size = len(data)
    start, stop = size // 3, size // 3 + max(64, size // 10)
    data[start:stop] = fill * (stop - start)
    path.write_bytes(bytes(data))
    assert path.stat().st_size == size


def test_a_same_size_corrupted_window_cache_warns_rebuilds_and_stores_the_clean_metrics(
        tmp_path, private_cache):
    path, db = tiny_suite(tmp_path), tmp_path / "r.duckdb"
    assert coordinator.run_suite(path, db=db).ok == 1
    clean = stored_scores(db)
    x_file = next((private_cache / "windows").glob("*/X.npy"))
    overwrite_middle(x_file)
    with pytest.warns(checksums.CacheWarning, match=r"X\.npy does not match its checksum"):
        assert coordinator.run_suite(path, db=db, rerun=True).ok == 1
    again = stored_scores(db)
    assert again.keys() == clean.keys()  # the same run ids, stored again
    assert {k: v[0] for k, v in again.items()} == {k: "ok" for k in clean}
    for run_id, (_, f1, loss) in again.items():
        assert (f1, loss) == pytest.approx(clean[run_id][1:])
    rebuilt = next((private_cache / "windows").glob("*/X.npy"))
    assert checksums.problems(rebuilt.parent) == []  # replaced on disk, not only in memory


def test_a_truncated_window_cache_is_replaced_on_disk(private_cache):
    first = np.asarray(load_windows("synthetic").X).copy()
    x_file = next((private_cache / "windows").glob("*/X.npy"))
    x_file.write_bytes(x_file.read_bytes()[:1000])
    with pytest.warns(checksums.CacheWarning, match="X.npy"):
        again = load_windows("synthetic")
    np.testing.assert_array_equal(np.asarray(again.X), first)
    assert checksums.problems(next((private_cache / "windows").glob("*/X.npy")).parent) == []


def test_a_window_entry_without_checksums_is_rebuilt_not_trusted(private_cache):
    load_windows("synthetic")
    folder = next((private_cache / "windows").glob("*/"))
    (folder / checksums.CHECKSUMS).unlink()
    with pytest.warns(checksums.CacheWarning, match="missing"):
        load_windows("synthetic")
    assert (next((private_cache / "windows").glob("*/")) / checksums.CHECKSUMS).is_file()


def test_a_same_size_corrupted_checkpoint_warns_retrains_and_stores_the_clean_metrics(
        tmp_path, private_cache):
    path, db = tmp_path / "p.yaml", tmp_path / "r.duckdb"
    path.write_text(MAE_PRETRAIN)
    assert coordinator.run_suite(path, db=db).ok == 1
    clean = stored_scores(db)
    weights = next((private_cache / "pretrain").glob("*/weights.pt"))
    overwrite_middle(weights, b"\x7f")
    with pytest.warns(checksums.CacheWarning, match=r"weights\.pt does not match its checksum"):
        assert coordinator.run_suite(path, db=db, rerun=True).ok == 1
    again = stored_scores(db)
    assert again.keys() == clean.keys()
    for run_id, (status, f1, loss) in again.items():
        assert status == "ok" and (f1, loss) == pytest.approx(clean[run_id][1:])
    assert checksums.problems(weights.parent) == []  # retrained and replaced on disk
    spec = suite.load(path).expand()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", checksums.CacheWarning)
        assert scored(run_one(spec))  # the replaced entry loads without a warning


def test_cache_verify_names_the_damaged_file_and_clear_keeps_raw_data(private_cache, capsys):
    load_windows("synthetic")
    (private_cache / "data" / "keep").mkdir(parents=True)
    assert cli.main(["cache", "verify"]) == 0
    x_file = next((private_cache / "windows").glob("*/X.npy"))
    overwrite_middle(x_file)
    capsys.readouterr()
    assert cli.main(["cache", "verify"]) == 1
    out = capsys.readouterr().out
    assert str(x_file) in out and "1 damaged" in out
    assert cli.main(["cache", "verify", "--remove-bad"]) == 0
    assert not x_file.exists()
    load_windows("synthetic")
    assert cli.main(["cache", "clear"]) == 0
    assert not list((private_cache / "windows").iterdir())
    assert (private_cache / "data" / "keep").is_dir()


def test_checksums_file_is_plain_json_of_sha256(private_cache):
    load_windows("synthetic")
    folder = next((private_cache / "windows").glob("*/"))
    sums = json.loads((folder / checksums.CHECKSUMS).read_text())
    assert set(sums) == {"X.npy", "y.npy", "subject.npy", "recording.npy", "start.npy",
                         "meta.json"}
    assert sums["X.npy"] == checksums.file_digest(folder / "X.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sound entry loads without a warning
        load_windows("synthetic")
