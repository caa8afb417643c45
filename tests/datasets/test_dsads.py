"""DSADS loader on tiny segment files in the published layout (data/aXX/pY/sZZ.txt)."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError


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


def test_dsads_windows_all_45_columns_in_order(data_root):
    tree = data_root / "dsads" / "data"
    write_segment(tree, "a01", 1, 1, segment_text())
    write_segment(tree, "a01", 1, 2, segment_text())
    write_segment(tree, "a19", 2, 1, segment_text(offset=100.0))
    w = harbench.load_windows("dsads", use_cache=False)
    assert w.rate_hz == 25.0 and w.X.shape == (3, 100, 45)  # one 4 s window per 5 s segment
    assert w.channels[:3] == ("torso_acc_x", "torso_acc_y", "torso_acc_z")
    assert w.channels[42:] == ("left_leg_mag_x", "left_leg_mag_y", "left_leg_mag_z")
    assert len(set(w.channels)) == 45
    assert sorted(set(w.subject.tolist())) == [1, 2]
    assert w.y[w.subject == 1].tolist() == [0, 0]
    assert w.y[w.subject == 2].tolist() == [18] and w.classes[18] == "playing_basketball"
    # every column once, in the published order (no repeated or missing magnetometer axis)
    np.testing.assert_allclose(w.X[0, 0], np.arange(45) + 0.5)


def test_dsads_tree_without_data_folder(data_root):
    write_segment(data_root / "dsads", "a07", 8, 60, segment_text())
    w = harbench.load_windows("dsads", use_cache=False)
    assert w.X.shape == (1, 100, 45) and w.y.tolist() == [6] and w.subject.tolist() == [8]


def test_dsads_short_segment_and_bad_row_name_the_file(data_root):
    tree = data_root / "dsads" / "data"
    write_segment(tree, "a02", 3, 1, segment_text(rows=124))
    with pytest.raises(HarbenchError, match=r"s01\.txt: expected 125 rows .*found 124"):
        harbench.load_windows("dsads", use_cache=False)
    lines = segment_text().splitlines()
    lines[41] = ",".join(lines[41].split(",")[:44])
    write_segment(tree, "a02", 3, 1, "\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"s01\.txt, line 42: expected 45 columns, found 44"):
        harbench.load_windows("dsads", use_cache=False)
