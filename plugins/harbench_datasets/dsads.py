"""Daily and Sports Activities (UCI 256): 5 Xsens MTx units, 9 axes each, 25 Hz, 8 subjects.

Published layout: ``data/aXX/pY/sZZ.txt`` (activity a01..a19, subject p1..p8, segment
s01..s60; the tree without the leading ``data/`` is accepted too). Each file is one 5 s segment:
125 rows x 45 comma-separated columns, unit by unit (torso, right arm, left arm, right leg,
left leg), each unit acc x/y/z, gyro x/y/z, mag x/y/z. All 45 columns are used, in that order.
One recording per segment file, as the published segments are what the benchmark windows
(a 4 s window fits once in each).

A subject's files are the segments present in its 19 ``aXX/pY`` folders; a subject with no
segment of some activity is missing (copies with fewer than 60 segments per folder load).
"""

from __future__ import annotations

import re
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench_datasets.readers import SubjectFiles, extract_hint, find_base, numbered, numeric_table

np = lazy.module("numpy")  # imported on first use: registering stays light

ACTIVITY_DIR = re.compile(r"^a(\d{2})$")
SUBJECT_DIR = re.compile(r"^p(\d+)$")
SEGMENT_FILE = re.compile(r"^s(\d{2})\.txt$")
PREFIXES = ("data", "")
UNITS = ("torso", "right_arm", "left_arm", "right_leg", "left_leg")
SENSORS = (("acc", "m/s^2"), ("gyro", "rad/s"), ("mag", "a.u."))
ROWS_PER_SEGMENT = 125


class Dsads(SubjectFiles, DatasetPlugin):
    name = "dsads"
    title = "Daily and Sports Activities (DSADS)"
    channels = tuple(
        Channel(f"{unit}_{kind}_{axis}", kind, unit, si)
        for unit in UNITS
        for kind, si in SENSORS
        for axis in "xyz"
    )
    rate_hz = 25.0
    subjects = tuple(range(1, 9))
    classes = (
        "sitting", "standing", "lying_on_back", "lying_on_right_side", "ascending_stairs",
        "descending_stairs", "standing_in_elevator", "moving_in_elevator", "walking_parking_lot",
        "walking_treadmill_flat", "walking_treadmill_inclined", "running_treadmill",
        "exercising_stepper", "exercising_cross_trainer", "cycling_horizontal",
        "cycling_vertical", "rowing", "jumping", "playing_basketball",
    )
    label_codes = tuple(f"a{i:02d}" for i in range(1, 20))
    protocol = {"name": "loso"}
    citation = (
        "Altun, Barshan, Tuncel. Comparative study on classifying human activities with "
        "miniature inertial and magnetic sensors. Pattern Recognition 43(10) (2010) 3605-3620."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/256/daily+and+sports+activities"
    archive_urls = (
        "https://archive.ics.uci.edu/static/public/256/daily+and+sports+activities.zip",
    )
    loader_version = "2"  # 2: subject subsets

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        base = find_base(root, PREFIXES, ACTIVITY_DIR) or root / PREFIXES[0]
        out: dict[int, list[Path]] = {}
        for subject in subjects:
            paths = []
            for code in self.label_codes:
                folder = base / code / f"p{subject}"
                found = numbered(folder, SEGMENT_FILE, want_dir=False)
                paths += found or [folder / "s01.txt"]  # none: the first one is named missing
            out[subject] = paths
        return out

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        code = path.parent.parent.name
        table = numeric_table(path, columns=45, delimiter=",")
        if len(table) != ROWS_PER_SEGMENT:
            raise HarbenchError(
                f"{path}: expected {ROWS_PER_SEGMENT} rows (5 s at 25 Hz), found {len(table)}"
            )
        labels = np.full(len(table), self.label_codes.index(code), dtype=np.int64)
        name = f"{code}_p{subject}_{path.stem}"
        return [Recording(subject, table.astype(np.float32), labels, name)]

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(
            self, root / "data" / "a01" / "p1" / "s01.txt", f" (or {root / 'a01/p1/s01.txt'})"
        )


PLUGINS = (Dsads,)
