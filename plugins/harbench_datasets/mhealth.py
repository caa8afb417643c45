"""MHEALTH (Banos et al. 2014): 10 subjects, chest, left-ankle and right-lower-arm sensors, 50 Hz.

Raw layout: ``MHEALTHDATASET/mHealth_subject{1-10}.log`` (the folder is optional), tab separated,
24 columns: chest acc x/y/z (1-3), ECG leads 1 and 2 (4-5), left-ankle acc, gyro, magnetometer
(6-14), right-lower-arm acc, gyro, magnetometer (15-23) and the activity label (24). Label 0 is
the null class and is dropped (-1); 1..12 are the 12 activities. Each file is one recording.
"""

from __future__ import annotations

import re
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, Recording
from harbench_datasets.readers import SubjectFiles, find_base, map_labels, numeric_table

np = lazy.module("numpy")  # imported on first use: registering stays light

FOLDERS = ("MHEALTHDATASET", "")
FILE = re.compile(r"^mHealth_subject\d+\.log$")
N_COLUMNS = 24
SUBJECTS = tuple(range(1, 11))
ACTIVITIES = (
    "Standing still", "Sitting and relaxing", "Lying down", "Walking", "Climbing stairs",
    "Waist bends forward", "Frontal elevation of arms", "Knees bending (crouching)", "Cycling",
    "Jogging", "Running", "Jump front & back",
)
UNITS = {"acc": "m/s^2", "gyro": "deg/s", "mag": "local", "ecg": "mV"}


def _channels() -> tuple[Channel, ...]:
    out = [Channel(f"chest_acc_{a}", "acc", "chest", UNITS["acc"]) for a in "xyz"]
    out += [Channel(f"chest_ecg_{lead}", "ecg", "chest", UNITS["ecg"]) for lead in (1, 2)]
    for position in ("left_ankle", "right_lower_arm"):
        for kind in ("acc", "gyro", "mag"):
            out += [Channel(f"{position}_{kind}_{a}", kind, position, UNITS[kind]) for a in "xyz"]
    return tuple(out)


def file_name(subject: int) -> str:
    return f"mHealth_subject{subject}.log"


def load_file(path: Path, subject: int) -> Recording:
    table = numeric_table(path, columns=N_COLUMNS)
    labels = map_labels(table[:, -1], {c: c - 1 for c in range(1, 13)}, path, dropped=(0,))
    return Recording(subject, table[:, :-1].astype(np.float32), labels, path.stem)


class MHealth(SubjectFiles, DatasetPlugin):
    name = "mhealth"
    title = "MHEALTH (Mobile HEALTH)"
    channels = _channels()
    rate_hz = 50.0
    subjects = SUBJECTS
    classes = ACTIVITIES
    label_codes = tuple(range(1, 13))
    protocol = {"name": "subject_groups", "groups": 5}
    citation = (
        "Banos, Garcia, Holgado-Terriza, Damas, Pomares, Rojas, Saez, Villalonga. mHealthDroid: "
        "a novel framework for agile development of mobile health applications. IWAAL 2014."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/319/mhealth+dataset"
    archive_urls = ("https://archive.ics.uci.edu/static/public/319/mhealth+dataset.zip",)
    loader_version = "2"  # 2: subject subsets

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        folder = find_base(root, FOLDERS, FILE) or root / FOLDERS[0]
        return {s: [folder / file_name(s)] for s in subjects}

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        return [load_file(path, subject)]

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\nand unzip it into {root}, so that "
            f"{root}/MHEALTHDATASET/{file_name(1)} exists."
        )


PLUGINS = (MHealth,)
