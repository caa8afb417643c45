"""UCI-HAR loader on a tiny tree in the published Inertial Signals layout."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError, plugins
from tests.datasets.subset import check_written

SIGNALS = [f"{kind}_{a}" for kind in ("body_acc", "body_gyro", "total_acc") for a in "xyz"]
SPLITS = {"train": ([1, 1, 3], [1, 6, 4]), "test": ([2], [3])}  # subjects, activity codes


def segment_line(channel: int, segment: int) -> str:
    values = channel * 100 + segment * 10 + np.arange(128) / 1000
    # the published files pad with spaces and use e-notation
    return "  " + " ".join(f"{v:.7e}" for v in values)


def write_tree(data_root, *, prefix: bool = True):
    base = data_root / "uci"
    if prefix:
        base = base / "UCI HAR Dataset"
    for split, (subjects, codes) in SPLITS.items():
        signals = base / split / "Inertial Signals"
        signals.mkdir(parents=True)
        for c, name in enumerate(SIGNALS):
            lines = [segment_line(c, i) for i in range(len(codes))]
            (signals / f"{name}_{split}.txt").write_text("\n".join(lines) + "\n")
        (base / split / f"subject_{split}.txt").write_text("".join(f"{s}\n" for s in subjects))
        (base / split / f"y_{split}.txt").write_text("".join(f"{c}\n" for c in codes))
    return base


def test_uci_segments_are_windows(data_root):
    write_tree(data_root)
    w = harbench.load_windows("uci", use_cache=False)
    assert w.channels == tuple(SIGNALS) and w.rate_hz == 50.0
    assert w.X.shape == (4, 128, 9)  # one window per published segment
    assert w.subject.tolist() == [1, 1, 3, 2]
    assert w.classes[5] == "LAYING"
    assert w.y.tolist() == [0, 5, 3, 2]  # codes 1, 6, 4, 3
    np.testing.assert_allclose(w.X[1, :, 4], 4 * 100 + 10 + np.arange(128) / 1000, rtol=1e-6)
    plugin = plugins.get("datasets", "uci")
    assert plugin.official_split["test_subjects"] == [2, 4, 9, 10, 12, 13, 18, 20, 24]
    assert check_written(data_root, "uci")["windows"] > 0  # the plugin author's kit



def test_uci_without_prefix_folder(data_root):
    write_tree(data_root, prefix=False)
    assert len(harbench.load_windows("uci", use_cache=False)) == 4


def test_uci_bad_files_are_named(data_root):
    base = write_tree(data_root)
    path = base / "test" / "Inertial Signals" / "body_gyro_y_test.txt"
    path.write_text(" ".join(path.read_text().split()[:127]) + "\n")
    with pytest.raises(HarbenchError, match=r"body_gyro_y_test\.txt, line 1: expected 128 columns"):
        harbench.load_windows("uci", use_cache=False)
    (base / "train" / "y_train.txt").write_text("1\n7\n4\n")
    with pytest.raises(HarbenchError, match=r"y_train\.txt, line 2: unknown label 7"):
        harbench.load_windows("uci", use_cache=False)
    (base / "train" / "y_train.txt").write_text("1\n6\n")
    with pytest.raises(HarbenchError, match=r"body_acc_x_train\.txt: 3 segments, but .*y_train"):
        harbench.load_windows("uci", use_cache=False)
    (base / "train" / "Inertial Signals" / "total_acc_z_train.txt").unlink()
    with pytest.raises(HarbenchError, match=r"missing 1 of 22 files, for subject\(s\) 1, 3, .*: "
                       r"train/Inertial Signals/total_acc_z_train\.txt"):
        harbench.load_windows("uci", use_cache=False)


def test_uci_subject_subset_reads_only_its_split(data_root):
    base = write_tree(data_root)
    plugin = plugins.get("datasets", "uci")
    assert {p.parent.name for p in plugin.files(data_root / "uci", subjects=[2])} == {
        "test", "Inertial Signals"}
    for path in (base / "train").rglob("*.txt"):
        path.unlink()  # the train split is gone: subject 2 (test split) still loads
    recordings = plugin.load(data_root / "uci", subjects=[2])
    assert [(r.subject, int(r.labels[0])) for r in recordings] == [(2, 2)]
    with pytest.raises(HarbenchError, match=r"missing 11 of 11 files, for subject\(s\) 3: "
                       r"train/Inertial Signals/body_acc_x_train\.txt"):
        plugin.load(data_root / "uci", subjects=[3])
