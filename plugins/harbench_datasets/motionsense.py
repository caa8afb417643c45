"""MotionSense (Malekzadeh et al. 2019): iPhone 6s in the front pocket, 24 subjects, 50 Hz.

Raw layout: ``A_DeviceMotion_data/{act}_{trial}/sub_{n}.csv`` for the 15 trials (dws 1, 2, 11;
ups 3, 4, 12; wlk 7, 8, 15; jog 9, 16; sit 5, 13; std 6, 14) and subjects 1..24. Each CSV has a
header row whose first column is an unnamed row index, then the 12 Core Motion values used here
(attitude roll/pitch/yaw, gravity, rotationRate, userAcceleration; columns found by name).
Each (trial, subject) file is one recording with a single activity.

Sensors, per Apple's Core Motion: ``userAcceleration`` is the body acceleration (gravity removed,
sensor "acc_body") and ``gravity`` the gravity vector (sensor "gravity"), both in g; their sum is
the total acceleration an accelerometer measures, which harmonisation builds. ``rotationRate``
is in rad/s.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench_datasets.readers import SubjectFiles, numeric_table, open_text

np = lazy.module("numpy")  # imported on first use: registering stays light

FOLDERS = ("A_DeviceMotion_data", "A_DeviceMotion_data/A_DeviceMotion_data",
           "data/A_DeviceMotion_data")
ACTIVITIES = (
    ("dws", "downstairs"), ("ups", "upstairs"), ("wlk", "walking"),
    ("jog", "jogging"), ("sit", "sitting"), ("std", "standing"),
)
TRIALS = {"dws": (1, 2, 11), "ups": (3, 4, 12), "wlk": (7, 8, 15), "jog": (9, 16),
          "sit": (5, 13), "std": (6, 14)}
SUBJECTS = tuple(range(1, 25))
COLUMNS = (
    ("attitude.roll", "attitude", "rad"), ("attitude.pitch", "attitude", "rad"),
    ("attitude.yaw", "attitude", "rad"),
    ("gravity.x", "gravity", "g"), ("gravity.y", "gravity", "g"), ("gravity.z", "gravity", "g"),
    ("rotationRate.x", "gyro", "rad/s"), ("rotationRate.y", "gyro", "rad/s"),
    ("rotationRate.z", "gyro", "rad/s"),
    ("userAcceleration.x", "acc_body", "g"), ("userAcceleration.y", "acc_body", "g"),
    ("userAcceleration.z", "acc_body", "g"),
)


def trial_files(folder: Path, subject: int) -> list[tuple[str, int, Path]]:
    """(activity code, trial, path) of every published file of ``subject``, in a fixed order."""
    return [
        (act, trial, folder / f"{act}_{trial}" / f"sub_{subject}.csv")
        for act, _ in ACTIVITIES
        for trial in TRIALS[act]
    ]


def data_folder(root: Path) -> Path:
    """The folder holding the trial folders (the first layout that has dws_1, else the usual)."""
    for folder in FOLDERS:
        if (root / folder / "dws_1").is_dir():
            return root / folder
    return root / FOLDERS[0]


def column_positions(path: Path) -> tuple[list[int], int]:
    """Indices of the 12 used columns and the number of columns, from the header row."""
    with open_text(path) as handle:
        header = [h.strip() for h in next(csv.reader(handle), [])]
    missing = [name for name, _, _ in COLUMNS if name not in header]
    if missing:
        raise HarbenchError(f"{path}, line 1: header lacks columns {missing}; found {header}")
    return [header.index(name) for name, _, _ in COLUMNS], len(header)


def load_file(path: Path, subject: int, label: int, name: str) -> Recording:
    positions, width = column_positions(path)
    table = numeric_table(path, delimiter=",", columns=width, skip_header=1)
    signals = table[:, positions].astype(np.float32)
    return Recording(subject, signals, np.full(len(signals), label, dtype=np.int64), name)


class MotionSense(SubjectFiles, DatasetPlugin):
    name = "motionsense"
    title = "MotionSense (device motion)"
    channels = tuple(
        Channel(name.replace(".", "_"), sensor, "front_pocket", unit)
        for name, sensor, unit in COLUMNS
    )
    rate_hz = 50.0
    subjects = SUBJECTS
    classes = tuple(name for _, name in ACTIVITIES)
    label_codes = tuple(code for code, _ in ACTIVITIES)
    protocol = {"name": "subject_groups", "groups": 6}
    citation = (
        "Malekzadeh, Clegg, Cavallaro, Haddadi. Mobile Sensor Data Anonymization. "
        "IoTDI 2019, 49-58."
    )
    licence = "MIT (licence of the mmalekzadeh/motion-sense repository)"
    source_url = "https://github.com/mmalekzadeh/motion-sense"
    archive_urls = (
        "https://github.com/mmalekzadeh/motion-sense/raw/master/data/A_DeviceMotion_data.zip",
    )
    loader_version = "2"  # 2: subject subsets; userAcceleration declared as body acceleration

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        folder = data_folder(root)
        return {s: [path for *_, path in trial_files(folder, s)] for s in subjects}

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        codes = [code for code, _ in ACTIVITIES]
        recordings = []
        for subject in self.checked_files(root, subjects):
            for act, trial, path in trial_files(data_folder(root), subject):
                name = f"{act}_{trial}_sub{subject:02d}"
                recordings.append(load_file(path, subject, codes.index(act), name))
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\nand unzip it into {root}, so that "
            f"{root}/A_DeviceMotion_data/dws_1/sub_1.csv exists."
        )


PLUGINS = (MotionSense,)
