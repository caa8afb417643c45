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
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from harbench.contracts import Channel, DatasetPlugin, Recording
from harbench.data.parsing import interpolate_nans, resample
from harbench_datasets.readers import SubjectFiles, find_base, map_labels, numeric_table

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
        Channel(f"{pos}_{kind}_{axis}", kind, pos, "m/s^2" if kind == "acc" else "rad/s")
        for pos, _ in IMUS
        for kind in ("acc", "gyro")
        for axis in "xyz"
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

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        mapping = {code: i for i, code in enumerate(self.label_codes)}
        dropped = (0, *OPTIONAL_ACTIVITIES)
        recordings = []
        for subject, (path,) in self.checked_files(root, subjects).items():
            table = numeric_table(path, columns=54)
            labels = map_labels(table[:, 1], mapping, path, dropped=dropped)
            signals, _ = interpolate_nans(table[:, list(SIGNAL_COLUMNS)])
            signals, labels = resample(signals, labels, self.native_rate_hz, self.rate_hz)
            recordings.append(
                Recording(subject, signals.astype(np.float32), labels.astype(np.int64), path.stem)
            )
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\n(page: {self.source_url}); it holds "
            f"PAMAP2_Dataset.zip: extract that so that {root / 'PAMAP2_Dataset' / 'Protocol'}"
            f"/subject101.dat exists (or {root / 'Protocol' / 'subject101.dat'})."
        )


PLUGINS = (Pamap2,)
