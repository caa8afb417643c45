"""OPPORTUNITY Activity Recognition (UCI 226): 17 mid-level gestures plus null, 30 Hz.

Raw layout: ``dataset/S{1-4}-ADL{1-5}.dat`` and ``dataset/S{1-4}-Drill.dat`` (the UCI zip wraps
them in ``OpportunityUCIDataset/``), whitespace separated, 250 columns, one row per sample.
Column numbers below are 1-based, as in the dataset's ``column_names.txt``: column 1 is the time in
ms; the 77 channels are the 5 Xsens IMUs (BACK 38-46, RUA 51-59, RLA 64-72, LUA 77-85,
LLA 90-98: acc, gyro, magnetometer x/y/z, quaternions skipped) and the two inertial shoes
(L-SHOE 103-118, R-SHOE 119-134, 16 values each); column 250 is ML_Both_Arms, the gesture label.
NaNs (sensor drop-outs) are linearly interpolated per recording. Each file is one recording.

Units, per column_names.txt: IMU and shoe accelerations in milli g; IMU gyro and magnetometer are
the sensor value x 1000 with unit "unknown"; shoe Euler angles and compass in degrees; shoe
angular velocities are documented as "mm/s" (value x 1000).
"""

from __future__ import annotations

import re
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import interpolate_nans
from harbench_datasets.readers import SubjectFiles, find_base, map_labels, numeric_table

np = lazy.module("numpy")  # imported on first use: registering stays light

N_COLUMNS = 250
LABEL_COLUMN = 250  # ML_Both_Arms
IMU_FIRST_COLUMN = {"back": 38, "rua": 51, "rla": 64, "lua": 77, "lla": 90}
SHOE_FIRST_COLUMN = {"lshoe": 103, "rshoe": 119}
SHOE_FIELDS = (
    ("EuX", "euler", "deg"), ("EuY", "euler", "deg"), ("EuZ", "euler", "deg"),
    ("Nav_Ax", "acc_nav", "milli g"), ("Nav_Ay", "acc_nav", "milli g"),
    ("Nav_Az", "acc_nav", "milli g"),
    ("Body_Ax", "acc", "milli g"), ("Body_Ay", "acc", "milli g"), ("Body_Az", "acc", "milli g"),
    ("AngVelBodyFrameX", "gyro", "mm/s"), ("AngVelBodyFrameY", "gyro", "mm/s"),
    ("AngVelBodyFrameZ", "gyro", "mm/s"),
    ("AngVelNavFrameX", "gyro_nav", "mm/s"), ("AngVelNavFrameY", "gyro_nav", "mm/s"),
    ("AngVelNavFrameZ", "gyro_nav", "mm/s"),
    ("Compass", "compass", "deg"),
)

GESTURES = (
    (0, "Null"),
    (406516, "Open Door 1"), (406517, "Open Door 2"),
    (404516, "Close Door 1"), (404517, "Close Door 2"),
    (406520, "Open Fridge"), (404520, "Close Fridge"),
    (406505, "Open Dishwasher"), (404505, "Close Dishwasher"),
    (406519, "Open Drawer 1"), (404519, "Close Drawer 1"),
    (406511, "Open Drawer 2"), (404511, "Close Drawer 2"),
    (406508, "Open Drawer 3"), (404508, "Close Drawer 3"),
    (408512, "Clean Table"), (407521, "Drink from Cup"), (405506, "Toggle Switch"),
)
RUNS = ("ADL1", "ADL2", "ADL3", "ADL4", "ADL5", "Drill")
SUBJECTS = (1, 2, 3, 4)
FOLDERS = ("dataset", "OpportunityUCIDataset/dataset", "")
DAT_FILE = re.compile(r"^S\d-(ADL\d|Drill)\.dat$")


def _channels() -> tuple[Channel, ...]:
    out = []
    for pos in IMU_FIRST_COLUMN:
        for kind, unit in (("acc", "milli g"), ("gyro", ""), ("mag", "")):
            out += [Channel(f"{pos}_{kind}_{axis}", kind, pos, unit) for axis in "xyz"]
    for pos in SHOE_FIRST_COLUMN:
        out += [Channel(f"{pos}_{field}", sensor, pos, unit) for field, sensor, unit in SHOE_FIELDS]
    return tuple(out)


def signal_columns() -> list[int]:
    """0-based indices of the 77 signal columns, in channel order."""
    cols = []
    for first in IMU_FIRST_COLUMN.values():
        cols += range(first - 1, first - 1 + 9)
    for first in SHOE_FIRST_COLUMN.values():
        cols += range(first - 1, first - 1 + 16)
    return cols


def load_file(path: Path, subject: int) -> Recording:
    """One .dat file -> one recording of the 77 channels, NaNs interpolated."""
    table = numeric_table(path, columns=N_COLUMNS, usecols=[*signal_columns(), LABEL_COLUMN - 1])
    signals, _ = interpolate_nans(table[:, :-1])
    codes = table[:, -1]
    if np.isnan(codes).any():
        line = int(np.flatnonzero(np.isnan(codes))[0]) + 1
        raise HarbenchError(f"{path}, line {line}: the ML_Both_Arms label (column 250) is NaN")
    labels = map_labels(codes, {code: i for i, (code, _) in enumerate(GESTURES)}, path)
    return Recording(subject, signals.astype(np.float32), labels, path.stem)


class Opportunity(SubjectFiles, DatasetPlugin):
    name = "oppo"
    title = "OPPORTUNITY Activity Recognition (mid-level gestures)"
    channels = _channels()
    rate_hz = 30.0
    subjects = SUBJECTS
    classes = tuple(name for _, name in GESTURES)
    label_codes = tuple(code for code, _ in GESTURES)
    protocol = {"name": "loso"}
    citation = (
        "Roggen et al. Collecting complex activity datasets in highly rich networked sensor "
        "environments. INSS 2010. Chavarriaga et al. The Opportunity challenge: A benchmark "
        "database for on-body sensor-based activity recognition. Pattern Recognition Letters 34 "
        "(2013) 2033-2042."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/226/opportunity+activity+recognition"
    archive_urls = (
        "https://archive.ics.uci.edu/static/public/226/opportunity+activity+recognition.zip",
    )
    loader_version = "2"  # 2: subject subsets

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        folder = find_base(root, FOLDERS, DAT_FILE) or root / FOLDERS[0]
        return {s: [folder / f"S{s}-{run}.dat" for run in RUNS] for s in subjects}

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        return [load_file(path, subject)]

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\nand unzip it into {root}, so that "
            f"{root}/OpportunityUCIDataset/dataset/S1-ADL1.dat exists (a bare dataset/ folder "
            "also works)."
        )


PLUGINS = (Opportunity,)
