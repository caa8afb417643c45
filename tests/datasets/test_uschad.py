"""USC-HAD loader on tiny trial files in the published layout (Subject{n}/a{m}t{k}.mat)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import savemat

import harbench
from harbench import HarbenchError
from tests.datasets.subset import subset_windows


def readings(n: int, subject: int) -> np.ndarray:
    """N x 6: acc x/y/z [g], gyro x/y/z [dps]; column c holds 10 c + subject."""
    return np.tile(np.arange(6) * 10.0 + subject, (n, 1))


def write_trial(data_root, subject: int, name: str, fields: dict):
    folder = data_root / "uschad" / f"Subject{subject}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    savemat(path, fields)
    return path


def trial_fields(n: int, subject: int, activity_field: str = "1") -> dict:
    return {
        "title": "USC Human Motion Database",
        "subject": str(subject),
        "activity_number": activity_field,
        "sensor_readings": readings(n, subject),
    }


def fill_activities(data_root, subject: int) -> None:
    """A 10-sample trial (too short for a window) of every activity the subject lacks."""
    folder = data_root / "uschad" / f"Subject{subject}"
    for activity in range(1, 13):
        if not list(folder.glob(f"a{activity}t*.mat")):
            write_trial(data_root, subject, f"a{activity}t1.mat", trial_fields(10, subject))


def test_uschad_windows_channels_and_labels(data_root):
    write_trial(data_root, 1, "a1t1.mat", trial_fields(600, 1))
    write_trial(data_root, 1, "a12t2.mat", trial_fields(400, 1, "12"))
    # the activity comes from the file name (some published files misspell the field)
    fields = trial_fields(800, 2)
    fields["activity_numbr"] = fields.pop("activity_number")
    write_trial(data_root, 2, "a5t1.mat", fields)
    fill_activities(data_root, 1)
    fill_activities(data_root, 2)
    w = subset_windows(data_root, "uschad", [1, 2])
    assert w.rate_hz == 100.0 and w.X.shape == (6, 400, 6)  # 2 + 1 + 3 windows of 4 s
    assert w.channels == ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
    assert sorted(set(w.subject.tolist())) == [1, 2]
    assert w.classes[11] == "elevator_down" and w.classes[4] == "walking_downstairs"
    assert sorted(w.y[w.subject == 1].tolist()) == [0, 0, 11]
    assert w.y[w.subject == 2].tolist() == [4, 4, 4]
    np.testing.assert_array_equal(w.X[w.subject == 2][0, 0], readings(1, 2)[0])


def test_uschad_missing_variable_names_file_and_key(data_root):
    write_trial(data_root, 3, "a2t1.mat", {"readings": readings(500, 3)})
    fill_activities(data_root, 3)
    with pytest.raises(HarbenchError, match=r"a2t1\.mat: no variable 'sensor_readings'"):
        subset_windows(data_root, "uschad", [3])


def test_uschad_missing_activity_and_subjects_are_named(data_root):
    fill_activities(data_root, 1)
    (data_root / "uschad" / "Subject1" / "a7t1.mat").unlink()
    with pytest.raises(HarbenchError, match=r"missing 1 of 12 files, for subject\(s\) 1: "
                       r"Subject1/a7t1\.mat"):
        subset_windows(data_root, "uschad", [1])
    with pytest.raises(HarbenchError, match=r"for subject\(s\) 1, 2, 3, .*14: "):
        harbench.load_windows("uschad", use_cache=False)


def test_uschad_wrong_shape_and_foreign_file(data_root):
    path = write_trial(data_root, 4, "a3t1.mat", {"sensor_readings": readings(500, 4)[:, :5]})
    fill_activities(data_root, 4)
    with pytest.raises(HarbenchError, match=r"a3t1\.mat, variable 'sensor_readings': expected a"):
        subset_windows(data_root, "uschad", [4])
    path.write_bytes(b"this is not a MATLAB file at all" * 8)
    with pytest.raises(HarbenchError, match=r"a3t1\.mat: not a readable MATLAB \.mat file"):
        subset_windows(data_root, "uschad", [4])
