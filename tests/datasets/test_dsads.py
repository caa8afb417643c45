"""DSADS loader on tiny segment files in the published layout (data/aXX/pY/sZZ.txt)."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError
from tests.datasets.subset import subset_windows


def segment_text(rows: int = 125, offset: float = 0.0) -> str:
    """125 rows x 45 comma-separated columns; column c holds c + 0.5 + offset."""
    row = ",".join(f"{c + 0.5 + offset:.4f}" for c in range(45))
    return "\n".join([row] * rows) + "\n"


def write_segment(folder, activity: str, subject: int, segment: int, text: str):
    target = folder / activity / f"p{subject}"
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"s{segment:02d}.txt"
    path.write_text(text)
    return path


def write_subject(folder, subject: int, offset: float = 0.0) -> None:
    """Segment s01 of every activity a01..a19 for one subject; a01 also gets s02."""
    for a in range(1, 20):
        write_segment(folder, f"a{a:02d}", subject, 1, segment_text(offset=offset + a))
    write_segment(folder, "a01", subject, 2, segment_text(offset=offset + 1))


def test_dsads_windows_all_45_columns_in_order(data_root):
    tree = data_root / "dsads" / "data"
    write_subject(tree, 1)
    write_subject(tree, 2, offset=100.0)
    w = subset_windows(data_root, "dsads", [1, 2])
    assert w.rate_hz == 25.0 and w.X.shape == (40, 100, 45)  # one 4 s window per 5 s segment
    assert w.channels[:3] == ("torso_acc_x", "torso_acc_y", "torso_acc_z")
    assert w.channels[42:] == ("left_leg_mag_x", "left_leg_mag_y", "left_leg_mag_z")
    assert len(set(w.channels)) == 45
    assert sorted(set(w.subject.tolist())) == [1, 2]
    assert w.y[w.subject == 1].tolist() == [0, 0, *range(1, 19)]
    assert w.classes[18] == "playing_basketball"
    # every column once, in the published order (no repeated or missing magnetometer axis)
    np.testing.assert_allclose(w.X[0, 0], np.arange(45) + 1.5)
    np.testing.assert_allclose(w.X[w.subject == 2][-1, 0], np.arange(45) + 119.5)


def test_dsads_tree_without_data_folder(data_root):
    write_subject(data_root / "dsads", 8)
    w = subset_windows(data_root, "dsads", [8])
    assert w.X.shape == (20, 100, 45) and w.y[2] == 1 and set(w.subject.tolist()) == {8}


def test_dsads_missing_subjects_and_activities_are_named(data_root):
    tree = data_root / "dsads" / "data"
    for subject in range(1, 9):
        if subject != 5:
            write_subject(tree, subject)
    (tree / "a07" / "p3" / "s01.txt").unlink()
    with pytest.raises(HarbenchError, match=r"missing 20 of 159 files, for subject\(s\) 3, 5: "
                       r"data/a07/p3/s01\.txt, data/a01/p5/s01\.txt"):
        harbench.load_windows("dsads", use_cache=False)
    assert len(subset_windows(data_root, "dsads", [1, 2])) == 40
    with pytest.raises(HarbenchError, match=r"dataset 'dsads' has no subject\(s\) \[9\]"):
        subset_windows(data_root, "dsads", [1, 9])


def test_dsads_short_segment_and_bad_row_name_the_file(data_root):
    tree = data_root / "dsads" / "data"
    write_subject(tree, 3)
    write_segment(tree, "a02", 3, 1, segment_text(rows=124))
    with pytest.raises(HarbenchError, match=r"s01\.txt: expected 125 rows .*found 124"):
        subset_windows(data_root, "dsads", [3])
    lines = segment_text().splitlines()
    lines[41] = ",".join(lines[41].split(",")[:44])
    write_segment(tree, "a02", 3, 1, "\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"s01\.txt, line 42: expected 45 columns, found 44"):
        subset_windows(data_root, "dsads", [3])
