"""Shoaib (SHO) loader on tiny Participant_N.csv files in the published two-header layout."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError
from tests.datasets.subset import check_written

POSITIONS = ["Left_pocket", "Right_pocket", "Wrist", "Upper_arm", "Belt"]
FIELDS = ["Ax", "Ay", "Az", "Lx", "Ly", "Lz", "Gx", "Gy", "Gz", "Mx", "My", "Mz"]
ACTIVITIES = {
    1: ["walking"] * 250 + ["upsatirs"] * 220,  # the published typo
    2: ["biking"] * 300,
    3: ["sitting"] * 200,
}


def participant_text(labels: list[str], empty_at: int | None = None) -> str:
    row1, row2 = [], []
    for pos in POSITIONS:
        row1 += [pos] + [""] * 13
        row2 += ["time_stamp", *FIELDS, ""]
    lines = [",".join(row1), ",".join(row2)]
    for i, label in enumerate(labels):
        cells = []
        for p in range(5):
            values = [f"{p * 100 + f + i * 0.001:.3f}" for f in range(12)]
            if empty_at == i and p == 2:
                values[6] = ""  # an empty Wrist Gx cell
            cells += [f"{1.39e12 + i * 20:.0f}", *values, ""]
        cells[-1] = label
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_tree(data_root):
    folder = data_root / "sho" / "DataSet"
    folder.mkdir(parents=True)
    for s in range(1, 11):
        text = participant_text(ACTIVITIES.get(s, ["standing"] * 3), empty_at=5 if s == 3 else None)
        (folder / f"Participant_{s}.csv").write_text(text)
    return folder


def test_sho_windows_channels_and_labels(data_root):
    write_tree(data_root)
    w = harbench.load_windows("sho", use_cache=False)
    assert len(w.channels) == 60 and w.rate_hz == 50.0
    assert w.channels[0] == "left_pocket_acc_x" and w.channels[3] == "left_pocket_acc_body_x"
    assert w.channels[30] == "wrist_gyro_x" and w.channels[-1] == "belt_mag_z"
    # walking 250 -> 1, upstairs 220 -> 1 (one recording per activity run), biking 300 -> 2,
    # sitting 200 -> 1
    assert w.X.shape == (5, 200, 60)
    assert w.subject.tolist() == [1, 1, 2, 2, 3]
    assert w.classes == (
        "walking", "standing", "jogging", "sitting", "biking", "upstairs", "downstairs"
    )
    assert w.y.tolist() == [0, 5, 4, 4, 3]
    np.testing.assert_allclose(w.X[0, :, 13], 100 + 1 + np.arange(200) * 0.001, atol=1e-4)
    wrist_gx = w.X[4, :, 30]  # Wrist Gx of participant 3, empty at row 5: interpolated
    np.testing.assert_allclose(wrist_gx, 206 + np.arange(200) * 0.001, atol=1e-4)
    assert check_written(data_root, "sho")["windows"] > 0  # the plugin author's kit



def test_sho_bad_files_are_named(data_root):
    folder = write_tree(data_root)
    path = folder / "Participant_4.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("101.001", "1O1", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"Participant_4\.csv, line 4: non-numeric cell '1O1'"):
        harbench.load_windows("sho", use_cache=False)
    lines[3] = lines[3].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"Participant_4\.csv, line 4: expected 70 columns"):
        harbench.load_windows("sho", use_cache=False)
    path.write_text(participant_text(["standing", "swimming"]))
    with pytest.raises(HarbenchError, match=r"Participant_4\.csv, line 4: unknown activity"):
        harbench.load_windows("sho", use_cache=False)
    (folder / "Participant_10.csv").unlink()
    with pytest.raises(HarbenchError, match=r"missing 1 of 10 files, for subject\(s\) 10: "
                       r".*Participant_10\.csv"):
        harbench.load_windows("sho", use_cache=False)
