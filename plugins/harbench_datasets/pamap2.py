"""PAMAP2 Physical Activity Monitoring (UCI 231): 3 IMUs (hand, chest, ankle) at 100 Hz.

Published layout: ``Protocol/subject101.dat`` .. ``subject109.dat``, whitespace-separated, 54
columns: timestamp [s], activityID, heart rate [bpm], then 17 columns per IMU (hand, chest,
ankle): temperature, acc +-16 g x/y/z [m/s^2], acc +-6 g x/y/z, gyro x/y/z [rad/s],
magnetometer x/y/z, orientation (4, invalid). Missing values (dropped packets) are NaN.

Used: the +-16 g accelerometer and the gyroscope of each IMU (18 channels). NaNs are linearly
interpolated per file, then each file is resampled polyphase 100 -> 33 Hz (labels: nearest
sample). Activity 0 (transient) and the optional activities are dropped (-1). One recording per
subject file; a subject's file is ``Protocol/subject1xx.dat``.
"""

from __future__ import annotations

import re
from pathlib import Path

from harbench import lazy
from harbench.contracts import DatasetPlugin, Recording
from harbench.data.parsing import interpolate_nans, resample
from harbench_datasets.readers import (
    SubjectFiles,
    acc_gyro_channels,
    extract_hint,
    find_base,
    map_labels,
    numeric_table,
)

np = lazy.module("numpy")  # imported on first use: registering stays light

FILE = re.compile(r"^subject(\d{3})\.dat$")
PREFIXES = ("", "PAMAP2_Dataset")
IMUS = (("hand", 3), ("chest", 20), ("ankle", 37))  # position, 0-based column of its temperature
ACC16_OFFSET, GYRO_OFFSET = 1, 7
OPTIONAL_ACTIVITIES = (9, 10, 11, 18, 19, 20)  # watching TV, computer work, car driving, ...
SIGNAL_COLUMNS = tuple(
    start + offset + axis
    for _, start in IMUS
    for offset in (ACC16_OFFSET, GYRO_OFFSET)
    for axis in range(3)
)


class Pamap2(SubjectFiles, DatasetPlugin):
    name = "pamap2"
    title = "PAMAP2 Physical Activity Monitoring (protocol activities)"
    channels = tuple(
        channel for pos, _ in IMUS for channel in acc_gyro_channels(pos, "m/s^2", prefix=f"{pos}_")
    )
    rate_hz = 33.0
    native_rate_hz = 100.0
    subjects = tuple(range(101, 110))
    classes = (
        "lying", "sitting", "standing", "walking", "running", "cycling", "nordic_walking",
        "ascending_stairs", "descending_stairs", "vacuum_cleaning", "ironing", "rope_jumping",
    )
    label_codes = (1, 2, 3, 4, 5, 6, 7, 12, 13, 16, 17, 24)
    protocol = {"name": "loso"}
    citation = (
        "Reiss, Stricker. Introducing a New Benchmarked Dataset for Activity Monitoring. "
        "16th International Symposium on Wearable Computers (ISWC) 2012, 108-109."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/231/pamap2+physical+activity+monitoring"
    archive_urls = (
        "https://archive.ics.uci.edu/static/public/231/pamap2+physical+activity+monitoring.zip",
    )
    loader_version = "2"  # 2: subject subsets

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        base = find_base(root, PREFIXES, "Protocol") or root
        return {s: [base / "Protocol" / f"subject{s}.dat"] for s in subjects}

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        mapping = {code: i for i, code in enumerate(self.label_codes)}
        table = numeric_table(path, columns=54)
        labels = map_labels(table[:, 1], mapping, path, dropped=(0, *OPTIONAL_ACTIVITIES))
        signals, _ = interpolate_nans(table[:, list(SIGNAL_COLUMNS)])
        signals, labels = resample(signals, labels, self.native_rate_hz, self.rate_hz)
        return [Recording(subject, signals.astype(np.float32), labels.astype(np.int64), path.stem)]

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(
            self, root / "PAMAP2_Dataset" / "Protocol" / "subject101.dat",
            f" (the download holds PAMAP2_Dataset.zip: extract that too; "
            f"{root / 'Protocol' / 'subject101.dat'} also works)",
        )


PLUGINS = (Pamap2,)
