"""Protocols as plugins: registered through the entry point, each knowing its fold count; the
subject-adaptation split of a target subject shares no window and no sample between its parts."""

from __future__ import annotations

import numpy as np
import pytest

from harbench import plugins
from harbench.contracts import HarbenchError, ProtocolPlugin
from harbench.data import protocols
from harbench.data.load import dataset_root, load_recordings, load_windows

BUILT_IN = {"loso", "subject_groups", "fixed", "window_kfold", "lodo", "subject_adaptation"}


@pytest.fixture(scope="module")
def hapt():
    return load_windows("hapt_embedded")


@pytest.fixture(scope="module")
def synthetic():
    return load_windows("synthetic")


def test_built_in_protocols_come_through_the_entry_point():
    registry = plugins.registry()
    assert BUILT_IN <= set(registry.names("protocols"))
    for name in BUILT_IN:
        plugin = registry.get("protocols", name)
        assert isinstance(plugin, ProtocolPlugin) and plugin.version and plugin.description
        assert registry.owners[("protocols", name)] == "protocols"


@pytest.mark.parametrize(
    "protocol",
    [
        {"name": "loso"},
        {"name": "subject_groups", "groups": 4},
        {"name": "window_kfold", "k": 3},
        {"name": "fixed", "test_subjects": [2, 5]},
        {"name": "subject_adaptation"},
        {"name": "subject_adaptation", "targets": [3, 1]},
        {"name": "lodo", "inner": {"name": "subject_groups", "groups": 3}},
    ],
)
def test_each_protocol_knows_how_many_folds_it_makes(synthetic, protocol):
    dataset = plugins.get("datasets", "synthetic")
    bound = protocols.bind(dataset, protocol)
    folds = protocols.make_folds(synthetic, bound)
    assert protocols.fold_count(dataset, bound) == len(folds) > 0
    for fold in folds:
        assert len(np.intersect1d(fold.train, fold.test)) == 0
        assert len(fold.train) and len(fold.test)


def test_subject_wise_folds_never_share_a_subject(synthetic):
    for protocol in ({"name": "loso"}, {"name": "subject_groups", "groups": 3}):
        for fold in protocols.make_folds(synthetic, protocol):
            train = set(synthetic.subject[fold.train].tolist())
            test = set(synthetic.subject[fold.test].tolist())
            assert train and test and not train & test


def test_make_folds_fills_in_the_declared_defaults(synthetic):
    assert len(protocols.make_folds(synthetic, {"name": "subject_groups"})) == 5
    with pytest.raises(HarbenchError, match="unknown protocol 'lsoo'. Did you mean 'loso'"):
        protocols.make_folds(synthetic, {"name": "lsoo"})


def test_bind_checks_the_protocol_against_the_dataset():
    synthetic = plugins.get("datasets", "synthetic")  # 6 subjects, no official split
    with pytest.raises(HarbenchError, match="groups 7 exceeds the 6 subjects"):
        protocols.bind(synthetic, {"name": "subject_groups", "groups": 7})
    with pytest.raises(HarbenchError, match="has no official split"):
        protocols.bind(synthetic, {"name": "fixed"})
    with pytest.raises(HarbenchError, match=r"test_subjects \[9\] are not subjects"):
        protocols.bind(synthetic, {"name": "fixed", "test_subjects": [1, 9]})
    with pytest.raises(HarbenchError, match=r"targets \[0\] are not subjects"):
        protocols.bind(synthetic, {"name": "subject_adaptation", "targets": [0]})
    with pytest.raises(HarbenchError, match="lodo cannot be its own inner protocol"):
        protocols.bind(synthetic, {"name": "lodo", "inner": {"name": "lodo"}})
    uci = protocols.bind(plugins.get("datasets", "uci"), {"name": "fixed"})
    assert uci["test_subjects"] == [2, 4, 9, 10, 12, 13, 18, 20, 24]  # the official split


def test_window_start_is_the_first_sample_of_each_window(hapt):
    plugin = plugins.get("datasets", "hapt_embedded")
    recordings = load_recordings(plugin, dataset_root(plugin))
    length = hapt.X.shape[1]
    for i in np.linspace(0, len(hapt) - 1, 25).astype(int):
        rec = recordings[hapt.recording[i]]
        start = hapt.start[i]
        assert rec.subject == hapt.subject[i]
        np.testing.assert_array_equal(hapt.X[i], rec.signals[start : start + length])


def _shares_a_sample(windows, a: np.ndarray, b: np.ndarray) -> bool:
    """Brute force: any window of ``a`` and any of ``b`` in one recording overlapping in time."""
    length = windows.X.shape[1]
    for rec in np.intersect1d(windows.recording[a], windows.recording[b]):
        sa = windows.start[a[windows.recording[a] == rec]]
        sb = windows.start[b[windows.recording[b] == rec]]
        if (np.abs(sa[:, None] - sb[None, :]) < length).any():
            return True
    return False


@pytest.mark.parametrize("target", [1, 17, 30])
def test_subject_adaptation_splits_a_target_in_time_with_a_gap(hapt, target):
    dataset = plugins.get("datasets", "hapt_embedded")
    bound = protocols.bind(dataset, {"name": "subject_adaptation", "targets": [target]})
    (fold,) = protocols.make_folds(hapt, bound)
    adapt, test, source = fold.train, fold.test, fold.source
    # source: every other subject but the two held out for forgetting, nothing of the target
    held = {28, 29} if target == 30 else {29, 30}
    assert set(fold.notes["forget_subjects"]) == held
    assert set(hapt.subject[fold.held_out].tolist()) == held
    assert set(hapt.subject[source].tolist()) == set(dataset.subjects) - {target} - held
    assert set(hapt.subject[adapt].tolist()) == {target} == set(hapt.subject[test].tolist())
    # no shared window, no shared sample, and together about all of the target's windows
    assert len(np.intersect1d(adapt, test)) == 0
    assert not _shares_a_sample(hapt, adapt, test)
    own = np.flatnonzero(hapt.subject == target)
    dropped = len(own) - len(adapt) - len(test)
    assert 0 < dropped < 0.25 * len(own)  # the gap costs a few windows at each boundary
    # per class: the first half of the class's time (at least min_per_class = 2) adapts, the rest
    # tests; a class too short for that only tests, and the fold names it
    unsplit = fold.notes["unsplit_classes"]
    for c in np.unique(hapt.y[own]):
        mine = own[hapt.y[own] == c]
        a, t = adapt[hapt.y[adapt] == c], test[hapt.y[test] == c]
        if hapt.classes[c] in unsplit:
            assert len(a) == 0
            continue
        assert len(a) == max(round(0.5 * len(mine)), 2) and len(t) >= 1
        if len(t):
            order = np.lexsort((hapt.start[mine], hapt.recording[mine]))
            rank = {int(w): r for r, w in enumerate(mine[order])}
            assert max(rank[int(w)] for w in a) < min(rank[int(w)] for w in t)


def test_subject_adaptation_budget_and_validation_come_from_the_adaptation_part(hapt):
    dataset = plugins.get("datasets", "hapt_embedded")
    bound = protocols.bind(dataset, {"name": "subject_adaptation", "adapt_fraction": 0.4})
    folds = protocols.make_folds(hapt, bound)
    assert len(folds) == protocols.fold_count(dataset, bound) == 30
    fold = folds[4]
    train, val = protocols.validation_split(hapt, fold.train, 0.2, seed=0)
    labelled = protocols.label_budget(hapt, train, per_class=3, seed=0)
    assert set(np.concatenate([train, val]).tolist()) <= set(fold.train.tolist())
    assert not _shares_a_sample(hapt, train, val)
    assert set(labelled.tolist()) <= set(train.tolist())
    counts = np.bincount(hapt.y[labelled], minlength=len(hapt.classes))
    assert counts.max() <= 3 and (counts[np.unique(hapt.y[train])] >= 1).all()
    assert not _shares_a_sample(hapt, labelled, fold.test)
    assert not _shares_a_sample(hapt, val, fold.test)


def test_a_single_subject_validates_on_the_end_of_each_class_one_window_apart(hapt):
    own = np.flatnonzero(hapt.subject == 7)
    train, val = protocols.validation_split(hapt, own, 0.25, seed=0)
    assert len(np.intersect1d(train, val)) == 0 and not _shares_a_sample(hapt, train, val)
    classes, counts = np.unique(hapt.y[own], return_counts=True)
    # per class, about the last quarter validates (never the class's last training window);
    # validation windows sharing a sample with training ones are dropped, training ones never
    for c, n in zip(classes, counts):
        n_val = min(round(0.25 * n), n - 1)
        assert np.sum(hapt.y[train] == c) == n - n_val
        assert np.sum(hapt.y[val] == c) <= n_val
        if n_val >= 3:
            assert np.sum(hapt.y[val] == c) >= 1
    assert len(train) + len(val) > 0.8 * len(own)
    # with min_per_class, a class validates only on what it has beyond its training windows
    train3, val3 = protocols.validation_split(hapt, own, 0.25, seed=0, min_per_class=3)
    for c, n in zip(classes, counts):
        assert np.sum(hapt.y[train3] == c) == n - max(0, min(round(0.25 * n), n - 3))


def test_subject_adaptation_without_window_starts_is_refused(hapt):
    bare = hapt.subset(np.arange(200))
    bare.start = bare.start[:0]
    with pytest.raises(HarbenchError, match="needs the start sample of every window"):
        protocols.make_folds(bare, {"name": "subject_adaptation"})


def test_registering_the_protocols_imports_neither_numpy_nor_torch():
    import subprocess
    import sys

    code = (
        "import sys, harbench_protocols\n"
        "harbench_protocols.harbench_register_protocols(register=lambda p: None)\n"
        "print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
