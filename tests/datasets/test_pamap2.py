"""PAMAP2 loader on tiny subject files in the published layout (Protocol/subject1xx.dat)."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError
from tests.datasets.subset import subset_windows

# 0-based columns of the +-16 g accelerometer and the gyroscope of hand, chest and ankle IMUs
USED = [4, 5, 6, 10, 11, 12, 21, 22, 23, 27, 28, 29, 38, 39, 40, 44, 45, 46]


def subject_text(activities: list[int], *, nan_cell: tuple[int, int] | None = None) -> str:
    """54 columns per row; sensor column j holds the value j; heart rate mostly NaN."""
    rows = []
    for i, activity in enumerate(activities):
        cells = [f"{i / 100:.2f}", str(activity), "NaN" if i % 9 else "104"]
        cells += [str(float(j)) for j in range(3, 54)]
        if nan_cell is not None and nan_cell[0] == i:
            cells[nan_cell[1]] = "NaN"  # a dropped packet
        rows.append(" ".join(cells))
    return "\n".join(rows) + "\n"


def write_subject(data_root, number: int, text: str):
    folder = data_root / "pamap2" / "PAMAP2_Dataset" / "Protocol"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"subject{number}.dat"
    path.write_text(text)
    return path


def test_pamap2_windows_resampled_channels_and_labels(data_root):
    # 150 transient (0), 550 walking (4), 500 rope jumping (24); a NaN in hand acc x at row 500
    write_subject(data_root, 101, subject_text([0] * 150 + [4] * 550 + [24] * 500,
                                               nan_cell=(500, 4)))
    write_subject(data_root, 102, subject_text([9] * 100 + [1] * 400))  # optional 9 is dropped
    write_subject(data_root, 103, subject_text([0] * 300))  # transient only: no windows
    w = subset_windows(data_root, "pamap2", [101, 102, 103])
    assert w.rate_hz == 33.0 and w.X.shape == (6, 132, 18)  # 4 s at 33 Hz
    assert w.channels[:6] == (
        "hand_acc_x", "hand_acc_y", "hand_acc_z", "hand_gyro_x", "hand_gyro_y", "hand_gyro_z"
    )
    assert w.channels[-1] == "ankle_gyro_z"
    assert sorted(set(w.subject.tolist())) == [101, 102]
    walking, rope, lying = (w.classes.index(c) for c in ("walking", "rope_jumping", "lying"))
    assert (walking, rope, lying) == (3, 11, 0)
    # 1200 samples at 100 Hz -> 396 at 33 Hz -> window starts 0, 66, 132, 198, 264
    assert w.y[w.subject == 101].tolist() == [walking] * 3 + [rope] * 2
    assert w.y[w.subject == 102].tolist() == [lying]
    assert not np.isnan(w.X).any()
    # away from the recording edges the resampled constant columns keep their values
    np.testing.assert_allclose(w.X[1, 60], USED, rtol=1e-3)


def test_pamap2_wrong_column_count_names_file_and_line(data_root):
    lines = subject_text([1] * 400).splitlines()
    lines[6] = " ".join(lines[6].split()[:53])
    write_subject(data_root, 105, "\n".join(lines) + "\n")
    with pytest.raises(
        HarbenchError, match=r"subject105\.dat, line 7: expected 54 columns, found 53"
    ):
        subset_windows(data_root, "pamap2", [105])


def test_pamap2_non_numeric_cell_names_file_and_line(data_root):
    lines = subject_text([1] * 400).splitlines()
    lines[11] = lines[11].replace(" 7.0 ", " seven ", 1)
    write_subject(data_root, 106, "\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"subject106\.dat, line 12: non-numeric cell 'seven'"):
        subset_windows(data_root, "pamap2", [106])


def test_pamap2_missing_subjects_are_named(data_root):
    for number in (101, 102, 104, 105, 106, 107, 108):
        write_subject(data_root, number, subject_text([1] * 10))
    with pytest.raises(HarbenchError, match=r"missing 2 of 9 files, for subject\(s\) 103, 109: "
                       r"PAMAP2_Dataset/Protocol/subject103\.dat, .*subject109\.dat"):
        harbench.load_windows("pamap2", use_cache=False)
    plugin = harbench.plugins.get("datasets", "pamap2")
    assert [r.subject for r in plugin.load(data_root / "pamap2", subjects=[102, 101])] == [
        102, 101]
