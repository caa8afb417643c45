"""Identity follows data: fingerprints of raw files key the window cache (issue 9.1).

Test data is WISDM v1.1's raw text (``user,activity,timestamp,x,y,z;`` records), written here.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from harbench import plugins
from harbench.data import fingerprint as fp
from harbench.data.load import load_windows

USERS = (1, 2, 3, 4, 5, 6)
SAMPLES = 200  # per user and activity, at 20 Hz: 10 s, so 4 windows of 4 s with a 2 s step
WINDOWS_PER_USER = 2 * 4


def wisdm_text(users) -> str:
    """WISDM_ar_v1.1_raw.txt records: each user walks then sits, 50 ms apart."""
    rng = np.random.default_rng(0)
    lines = []
    for user in users:
        stamp = 1_000_000_000 * user
        for activity in ("Walking", "Sitting"):
            for _ in range(SAMPLES):
                x, y, z = rng.normal(0, 3, size=3)
                lines.append(f"{user},{activity},{stamp},{x:.4f},{y:.4f},{z:.4f};")
                stamp += 50_000_000
            stamp += 5_000_000_000  # a gap: the next activity is a new recording
    return "\n".join(lines) + "\n"


@pytest.fixture
def wisdm_root(data_root):
    folder = data_root / "wisdm" / "WISDM_ar_v1.1"
    folder.mkdir(parents=True)
    return data_root / "wisdm", folder / "WISDM_ar_v1.1_raw.txt"


def window_folders(cache_dir):
    return sorted(p.name for p in (cache_dir / "windows").glob("wisdm-*"))


def test_truncated_then_restored_dataset_gives_all_windows_again(wisdm_root, data_root, tmp_path):
    root, raw = wisdm_root
    cache_dir = tmp_path / "cache"
    raw.write_text(wisdm_text(USERS[:3]))  # a download cut short: 3 of 6 users
    truncated = load_windows("wisdm", root=data_root, cache_dir=cache_dir)
    assert len(truncated) == 3 * WINDOWS_PER_USER
    assert window_folders(cache_dir) and len(window_folders(cache_dir)) == 1

    raw.write_text(wisdm_text(USERS))  # the full file restored
    full = load_windows("wisdm", root=data_root, cache_dir=cache_dir)
    assert len(full) == len(USERS) * WINDOWS_PER_USER
    assert sorted(set(full.subject.tolist())) == list(USERS)
    assert len(window_folders(cache_dir)) == 2  # a new cache entry, the stale one never read

    plugin = plugins.get("datasets", "wisdm")
    first = fp.dataset_fingerprint(plugin, root, cache_dir=cache_dir)
    raw.write_text(wisdm_text(USERS[:3]))
    assert fp.dataset_fingerprint(plugin, root, cache_dir=cache_dir) != first


def test_touching_a_file_keeps_the_fingerprint_and_a_changed_byte_does_not(wisdm_root, tmp_path):
    root, raw = wisdm_root
    plugin = plugins.get("datasets", "wisdm")
    raw.write_text(wisdm_text(USERS))
    before = fp.dataset_fingerprint(plugin, root, cache_dir=tmp_path)
    os.utime(raw, (time.time() + 5, time.time() + 5))  # re-extracted: same bytes, new mtime
    assert fp.dataset_fingerprint(plugin, root, cache_dir=tmp_path) == before
    text = raw.read_text()
    raw.write_text(text.replace("Walking", "Jogging", 1))  # same size, other content
    assert fp.dataset_fingerprint(plugin, root, cache_dir=tmp_path) != before


def test_content_hash_is_computed_once_and_cached_on_size_and_mtime(
    wisdm_root, tmp_path, monkeypatch
):
    root, raw = wisdm_root
    raw.write_text(wisdm_text(USERS))
    old = time.time() - 3600
    os.utime(raw, (old, old))  # older than the racy window, so its hash may be remembered
    hashed = []
    real = fp.file_hash
    monkeypatch.setattr(fp, "file_hash", lambda path: hashed.append(path) or real(path))
    plugin = plugins.get("datasets", "wisdm")
    first = fp.dataset_fingerprint(plugin, root, cache_dir=tmp_path)
    assert hashed == [raw]
    assert fp.dataset_fingerprint(plugin, root, cache_dir=tmp_path) == first
    assert hashed == [raw]  # second time: a stat, no read
    assert list((tmp_path / "fingerprints").glob("wisdm-*.json"))


def test_a_changed_loader_version_gives_new_windows(wisdm_root, data_root, tmp_path, monkeypatch):
    _, raw = wisdm_root
    raw.write_text(wisdm_text(USERS[:2]))
    load_windows("wisdm", root=data_root, cache_dir=tmp_path)
    plugin = plugins.get("datasets", "wisdm")
    monkeypatch.setattr(type(plugin), "loader_version", str(plugin.loader_version) + ".1")
    assert plugins.version_of("datasets", "wisdm") == str(plugin.loader_version)
    load_windows("wisdm", root=data_root, cache_dir=tmp_path)
    assert len(window_folders(tmp_path)) == 2


def test_a_subject_subset_has_its_own_windows_and_fingerprint(wisdm_root, data_root, tmp_path):
    root, raw = wisdm_root
    raw.write_text(wisdm_text(USERS))
    some = load_windows("wisdm", root=data_root, cache_dir=tmp_path, subjects=[2, 4])
    assert sorted(set(some.subject.tolist())) == [2, 4]
    assert len(some) == 2 * WINDOWS_PER_USER
    every = load_windows("wisdm", root=data_root, cache_dir=tmp_path)
    assert len(every) == len(USERS) * WINDOWS_PER_USER
    plugin = plugins.get("datasets", "wisdm")
    assert fp.dataset_fingerprint(plugin, root, [2, 4], cache_dir=tmp_path) != (
        fp.dataset_fingerprint(plugin, root, cache_dir=tmp_path)
    )


def test_embedded_dataset_fingerprints_its_package_files(tmp_path):
    plugin = plugins.get("datasets", "synthetic")
    first = fp.dataset_fingerprint(plugin, tmp_path / "synthetic", cache_dir=tmp_path)
    assert first == fp.dataset_fingerprint(plugin, tmp_path / "elsewhere", cache_dir=tmp_path)
    assert len(first) == 20 and int(first, 16) >= 0


SUITE = """
name: wisdm_identity
defaults:
  protocol: {name: subject_groups, groups: 3}
  training: {epochs: 1, batch_size: 16, patience: 1}
matrix:
  datasets: [wisdm]
  models: [{tinierhar: {filters: 4, hidden: 8}}]
  methods: [full]
  seeds: [0]
  folds: [0]
executor: {name: local, workers: 1}
"""


def stored_windows(db) -> list[tuple[str, int]]:
    """(run_id, train + validation + test windows) of every stored ok run, oldest first."""
    from harbench.store import Store

    with Store(db, read_only=True) as store:
        return store.query(
            "SELECT r.run_id, CAST(sum(m.value) AS INTEGER) FROM runs r JOIN metrics m "
            "USING (run_id) WHERE r.status = 'ok' AND m.name IN "
            "('train_windows', 'val_windows', 'test_windows') "
            "GROUP BY r.run_id, r.finished_at ORDER BY r.finished_at"
        )[1]


def test_a_suite_on_a_restored_dataset_reruns_and_trains_on_all_windows(wisdm_root, tmp_path):
    from harbench.coordinator import run_suite

    _, raw = wisdm_root
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    db = tmp_path / "results.duckdb"
    raw.write_text(wisdm_text(USERS[:3]))  # the truncated download
    first = run_suite(suite, db=db)
    assert (first.ok, first.skipped) == (1, 0)
    assert [n for _, n in stored_windows(db)] == [3 * WINDOWS_PER_USER]

    assert run_suite(suite, db=db).skipped == 1  # unchanged data: nothing to run

    raw.write_text(wisdm_text(USERS))  # the full file restored
    second = run_suite(suite, db=db)
    assert (second.ok, second.skipped) == (1, 0)  # a new identity: it runs again
    runs = stored_windows(db)
    assert len({run_id for run_id, _ in runs}) == 2  # the old result stays queryable
    assert runs[-1][1] == len(USERS) * WINDOWS_PER_USER


def test_a_changed_loader_version_or_method_version_gives_a_new_run_identity(
    wisdm_root, tmp_path, monkeypatch
):
    from harbench import suite

    _, raw = wisdm_root
    raw.write_text(wisdm_text(USERS[:3]))
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)

    def run_ids() -> list[str]:
        return [spec.run_id for spec in suite.load(path).expand()]

    before = run_ids()
    assert run_ids() == before  # nothing changed: the same identity
    dataset = plugins.get("datasets", "wisdm")
    monkeypatch.setattr(type(dataset), "loader_version", str(dataset.loader_version) + ".1")
    after_loader = run_ids()
    assert after_loader != before
    method = plugins.get("methods", "full")
    monkeypatch.setattr(type(method), "version", str(method.version) + ".1")
    assert run_ids() not in (before, after_loader)
