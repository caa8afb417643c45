"""MotionSense loader on a tiny A_DeviceMotion_data tree (15 trials x 24 subjects)."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError

TRIALS = {"dws": (1, 2, 11), "ups": (3, 4, 12), "wlk": (7, 8, 15), "jog": (9, 16),
          "sit": (5, 13), "std": (6, 14)}
COLUMNS = ["attitude.roll", "attitude.pitch", "attitude.yaw", "gravity.x", "gravity.y",
           "gravity.z", "rotationRate.x", "rotationRate.y", "rotationRate.z",
           "userAcceleration.x", "userAcceleration.y", "userAcceleration.z"]
LONG = {("wlk_7", 1): 250, ("std_14", 24): 300, ("dws_11", 5): 200}


def csv_text(n: int, subject: int) -> str:
    lines = ["," + ",".join(COLUMNS)]  # the first header cell (the index) is empty
    for i in range(n):
        values = [f"{subject + c / 100:.6f}" for c in range(12)]
        values[9] = f"{i * 0.001:.6f}"  # userAcceleration.x
        lines.append(",".join([str(i), *values]))
    return "\n".join(lines) + "\n"


def write_tree(data_root):
    base = data_root / "motionsense" / "A_DeviceMotion_data"
    for act, trials in TRIALS.items():
        for trial in trials:
            folder = base / f"{act}_{trial}"
            folder.mkdir(parents=True)
            for s in range(1, 25):
                n = LONG.get((folder.name, s), 3)
                (folder / f"sub_{s}.csv").write_text(csv_text(n, s))
    return base


def test_motionsense_windows_and_labels(data_root):
    write_tree(data_root)
    w = harbench.load_windows("motionsense", use_cache=False)
    assert len(w.channels) == 12 and w.rate_hz == 50.0
    assert w.channels[0] == "attitude_roll" and w.channels[9] == "userAcceleration_x"
    assert w.X.shape == (4, 200, 12)  # 250 -> 1, 300 -> 2, 200 -> 1 windows
    assert sorted(set(w.subject.tolist())) == [1, 5, 24]
    assert w.classes == ("downstairs", "upstairs", "walking", "jogging", "sitting", "standing")
    got = {(int(s), int(y)) for s, y in zip(w.subject, w.y)}
    assert got == {(5, 0), (1, 2), (24, 5)}
    walk = w.X[w.subject == 1][0]
    np.testing.assert_allclose(walk[:, 9], np.arange(200) * 0.001, atol=1e-6)
    np.testing.assert_allclose(walk[:, 0], 1.0)  # index column not taken as a channel


def test_motionsense_bad_files_are_named(data_root):
    base = write_tree(data_root)
    path = base / "jog_16" / "sub_7.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2] + ",0.5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"jog_16/sub_7\.csv, line 3: expected 13 columns"):
        harbench.load_windows("motionsense", use_cache=False)
    lines[2] = lines[1].replace("7.000000", "n/a", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"jog_16/sub_7\.csv, line 3: non-numeric cell 'n/a'"):
        harbench.load_windows("motionsense", use_cache=False)
    lines[0] = lines[0].replace("gravity.y", "gravity_y")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"sub_7\.csv, line 1: header lacks .*'gravity\.y'"):
        harbench.load_windows("motionsense", use_cache=False)
    (base / "sit_13" / "sub_24.csv").unlink()
    with pytest.raises(HarbenchError, match=r"missing 1 of 360 files, for subject\(s\) 24: "
                       r".*sit_13/sub_24\.csv"):
        harbench.load_windows("motionsense", use_cache=False)
