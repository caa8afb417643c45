"""USC-HAD: one MotionNode (3-axis accelerometer + gyroscope) at the front right hip, 100 Hz.

Published layout: ``Subject{n}/a{m}t{k}.mat``, one MATLAB file per trial k of activity m. The
variable ``sensor_readings`` is N x 6: acc x, y, z [g], gyro x, y, z [deg/s]. The activity is
taken from the file name (the ``activity_number`` field is misspelt in some files). One
recording per trial file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench_datasets.formats_a import find_base, mat_matrix, read_mat

SUBJECT_DIR = re.compile(r"^Subject(\d+)$")
TRIAL_FILE = re.compile(r"^a(\d+)t(\d+)\.mat$")
PREFIXES = ("", "USC-HAD")
VARIABLE = "sensor_readings"


class UscHad(DatasetPlugin):
    name = "uschad"
    title = "USC-HAD (USC Human Activity Dataset)"
    channels = tuple(
        Channel(f"{kind}_{axis}", kind, "front_right_hip", "g" if kind == "acc" else "deg/s")
        for kind in ("acc", "gyro")
        for axis in "xyz"
    )
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
    loader_version = "1"

    def _base(self, root: Path) -> Path | None:
        return find_base(root, PREFIXES, SUBJECT_DIR)

    def is_present(self, root: Path) -> bool:
        return self._base(root) is not None

    def load(self, root: Path) -> list[Recording]:
        base = self._base(root)
        if base is None:
            raise HarbenchError(f"no USC-HAD Subject folders under {root}")
        recordings = []
        subject_dirs = [p for p in base.iterdir() if p.is_dir() and SUBJECT_DIR.match(p.name)]
        for folder in sorted(subject_dirs, key=lambda p: int(SUBJECT_DIR.match(p.name).group(1))):
            subject = int(SUBJECT_DIR.match(folder.name).group(1))
            trials = []
            for path in folder.iterdir():
                match = TRIAL_FILE.match(path.name)
                if match:
                    trials.append((int(match.group(1)), int(match.group(2)), path))
            for activity, trial, path in sorted(trials):
                if activity not in self.label_codes:
                    raise HarbenchError(
                        f"{path}: activity number {activity} from the file name is not 1..12"
                    )
                readings = mat_matrix(read_mat(path, [VARIABLE]), VARIABLE, path, columns=6)
                if np.isnan(readings).any():
                    raise HarbenchError(f"{path}, variable {VARIABLE!r}: contains NaN")
                labels = np.full(len(readings), activity - 1, dtype=np.int64)
                name = f"subject{subject}_a{activity}t{trial}"
                recordings.append(Recording(subject, readings.astype(np.float32), labels, name))
        if not recordings:
            raise HarbenchError(f"no USC-HAD trial files (Subject{{n}}/a{{m}}t{{k}}.mat) in {base}")
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\n(page: {self.source_url}) and extract it so that "
            f"{root / 'Subject1' / 'a1t1.mat'} exists (the archive's USC-HAD/ folder level is "
            "also accepted)."
        )


PLUGINS = (UscHad,)
