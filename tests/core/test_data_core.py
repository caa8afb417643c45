"""Windowing, protocols, normalisation and the window cache, on hand-made recordings."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench.contracts import HarbenchError, Recording
from harbench.data import protocols
from harbench.data.normalise import ZScore
from harbench.data.windows import make_windows


def rec(subject, labels, channels=2, offset=0.0):
    labels = np.asarray(labels, dtype=np.int64)
    signals = np.arange(len(labels) * channels, dtype=np.float32).reshape(-1, channels) + offset
    return Recording(subject, signals, labels)


def windows_of(recordings, window=4, step=2):
    return make_windows(
        recordings,
        window=window,
        step=step,
        classes=("a", "b", "c"),
        channels=("x", "y"),
        rate_hz=10.0,
    )


def test_windows_never_cross_recordings_and_take_the_majority_label():
    r1 = rec(1, [0, 0, 0, 1, 1, 1, 1, 2])  # windows at 0, 2, 4 -> labels 0 (3 vs 1), 1, 1
    r2 = rec(2, [2, 2, 2], offset=1000)  # shorter than a window: no window
    w = windows_of([r1, r2])
    assert w.X.shape == (3, 4, 2) and w.X.dtype == np.float32
    assert w.y.tolist() == [0, 1, 1]
    assert w.subject.tolist() == [1, 1, 1]
    np.testing.assert_array_equal(w.X[1], r1.signals[2:6])
    assert (w.X < 1000).all()  # nothing from the second recording was glued on


def test_windows_with_unlabelled_majority_are_dropped():
    w = windows_of([rec(1, [-1, -1, -1, 0, 0, 0, 0, 0])])
    # windows at 0 (3 unlabelled of 4: dropped), 2 (1 unlabelled: label 0), 4 (label 0)
    assert w.y.tolist() == [0, 0]


def make_subjects(n_subjects=6, per_subject=10):
    recs = [
        rec(s, [s % 3] * (per_subject * 2 + 2), offset=s * 100.0) for s in range(1, n_subjects + 1)
    ]
    return windows_of(recs)


def test_subject_groups_partition_subjects_and_never_leak():
    w = make_subjects()
    folds = protocols.make_folds(w, {"name": "subject_groups", "groups": 3})
    assert len(folds) == 3
    tested = []
    for fold in folds:
        train_s, test_s = set(w.subject[fold.train]), set(w.subject[fold.test])
        assert not train_s & test_s
        assert train_s | test_s == set(range(1, 7))
        tested += sorted(test_s)
    assert tested == [1, 2, 3, 4, 5, 6]


def test_loso_and_validation_subjects_come_from_training_subjects():
    w = make_subjects()
    folds = protocols.make_folds(w, {"name": "loso"})
    assert len(folds) == 6
    train, val = protocols.validation_split(w, folds[0].train, 0.2, seed=0)
    assert set(w.subject[val]).isdisjoint(w.subject[train])
    assert set(w.subject[val]) <= set(w.subject[folds[0].train])
    assert 1 not in set(w.subject[val]) | set(w.subject[train])


def test_label_budget_per_class_and_fraction():
    w = make_subjects()
    train = np.arange(len(w))
    few = protocols.label_budget(w, train, per_class=2, seed=0)
    assert np.bincount(w.y[few]).tolist() == [2, 2, 2]
    again = protocols.label_budget(w, train, per_class=2, seed=0)
    assert few.tolist() == again.tolist()
    half = protocols.label_budget(w, train, fraction=0.5, seed=1)
    assert abs(len(half) - len(w) / 2) <= 3
    with pytest.raises(HarbenchError):
        protocols.label_budget(w, train, seed=0)


def test_zscore_is_fitted_on_training_windows_only():
    X = np.random.default_rng(0).normal(5.0, 2.0, size=(50, 8, 3)).astype(np.float32)
    norm = ZScore.fit(X[:25])
    np.testing.assert_allclose(norm.apply(X[:25]).reshape(-1, 3).mean(0), 0, atol=1e-5)
    assert norm.apply(X).dtype == np.float32


def test_load_windows_public_api_and_cache(tmp_path):
    w = harbench.load_windows("synthetic", cache_dir=tmp_path)
    assert w.X.dtype == np.float32 and w.X.ndim == 3 and w.X.shape[1:] == (50, 3)
    assert w.y.dtype == np.int64 and w.subject.dtype == np.int64
    assert w.rate_hz == 25.0 and len(w.classes) == 4 and len(w.channels) == 3
    cached = harbench.load_windows("synthetic", cache_dir=tmp_path)
    assert isinstance(cached.X, np.memmap)
    np.testing.assert_array_equal(np.asarray(cached.X), w.X)
    other = harbench.load_windows("synthetic", cache_dir=tmp_path, seconds=4, step=4)
    assert other.X.shape[1] == 100
    with pytest.raises(HarbenchError, match="unknown dataset"):
        harbench.load_windows("synthetc")


def test_atomic_folder_is_whole_or_absent_and_the_first_writer_wins(tmp_path):
    from harbench.atomic import write_folder

    dest = tmp_path / "entry"

    def broken(tmp):
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_folder(dest, broken)
    assert not dest.exists() and list(tmp_path.iterdir()) == []  # no temporary left behind

    assert write_folder(dest, lambda tmp: (tmp / "a.txt").write_text("first")) is True
    assert write_folder(dest, lambda tmp: (tmp / "a.txt").write_text("second")) is False
    assert (dest / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]
