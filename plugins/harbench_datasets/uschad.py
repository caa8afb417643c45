"""USC-HAD: one MotionNode (3-axis accelerometer + gyroscope) at the front right hip, 100 Hz.

Published layout: ``Subject{n}/a{m}t{k}.mat``, one MATLAB file per trial k of activity m. The
variable ``sensor_readings`` is N x 6: acc x, y, z [g], gyro x, y, z [deg/s]. The activity is
taken from the file name (the ``activity_number`` field is misspelt in some files). One
recording per trial file. A subject's files are its trial files present; a subject without any
trial of one of the 12 activities is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from harbench import lazy
from harbench.contracts import DatasetPlugin, HarbenchError, Recording
from harbench_datasets.readers import (
    SubjectFiles,
    acc_gyro_channels,
    extract_hint,
    find_base,
    mat_matrix,
    read_mat,
)

np = lazy.module("numpy")  # imported on first use: registering stays light

SUBJECT_DIR = re.compile(r"^Subject(\d+)$")
TRIAL_FILE = re.compile(r"^a(\d+)t(\d+)\.mat$")
PREFIXES = ("", "USC-HAD")
VARIABLE = "sensor_readings"


class UscHad(SubjectFiles, DatasetPlugin):
    name = "uschad"
    title = "USC-HAD (USC Human Activity Dataset)"
    channels = acc_gyro_channels("front_right_hip", "g", "deg/s")
    rate_hz = 100.0
    subjects = tuple(range(1, 15))
    classes = (
        "walking_forward", "walking_left", "walking_right", "walking_upstairs",
        "walking_downstairs", "running_forward", "jumping_up", "sitting", "standing", "sleeping",
        "elevator_up", "elevator_down",
    )
    label_codes = tuple(range(1, 13))
    protocol = {"name": "subject_groups", "groups": 7}
    citation = (
        "Zhang, Sawchuk. USC-HAD: A Daily Activity Dataset for Ubiquitous Activity Recognition "
        "Using Wearable Sensors. UbiComp 2012 Workshop on Situation, Activity and Goal "
        "Awareness (SAGAware)."
    )
    licence = "free for research use, cite the paper (see the source page)"
    source_url = "https://sipi.usc.edu/had/"
    archive_urls = ("https://sipi.usc.edu/had/USC-HAD.zip",)
    loader_version = "2"  # 2: subject subsets

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        base = find_base(root, PREFIXES, SUBJECT_DIR) or root
        out = {}
        for subject in subjects:
            folder = base / f"Subject{subject}"
            trials = sorted(
                (int(m.group(1)), int(m.group(2)), p)
                for p in (folder.iterdir() if folder.is_dir() else ())
                for m in (TRIAL_FILE.match(p.name),)
                if m
            )
            paths = []
            for activity in self.label_codes:
                mine = [p for a, _, p in trials if a == activity]
                paths += mine or [folder / f"a{activity}t1.mat"]
            out[subject] = paths
        return out

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        activity, trial = (int(g) for g in TRIAL_FILE.match(path.name).groups())
        readings = mat_matrix(read_mat(path, [VARIABLE]), VARIABLE, path, columns=6)
        if np.isnan(readings).any():
            raise HarbenchError(f"{path}, variable {VARIABLE!r}: contains NaN")
        labels = np.full(len(readings), activity - 1, dtype=np.int64)
        name = f"subject{subject}_a{activity}t{trial}"
        return [Recording(subject, readings.astype(np.float32), labels, name)]

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(
            self, root / "Subject1" / "a1t1.mat", " (the archive's USC-HAD/ level is also accepted)"
        )


PLUGINS = (UscHad,)
