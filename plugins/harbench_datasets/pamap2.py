"""PAMAP2 Physical Activity Monitoring (UCI 231): 3 IMUs (hand, chest, ankle) at 100 Hz.

Published layout: ``Protocol/subject101.dat`` .. ``subject109.dat``, whitespace-separated, 54
columns: timestamp [s], activityID, heart rate [bpm], then 17 columns per IMU (hand, chest,
ankle): temperature, acc +-16 g x/y/z [m/s^2], acc +-6 g x/y/z, gyro x/y/z [rad/s],
magnetometer x/y/z, orientation (4, invalid). Missing values (dropped packets) are NaN.

Used: the +-16 g accelerometer and the gyroscope of each IMU (18 channels). NaNs are linearly
interpolated per file, then each file is resampled polyphase 100 -> 33 Hz (labels: nearest
sample). Activity 0 (transient) and the optional activities are dropped (-1). One recording per
subject file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import interpolate_nans, resample
from harbench_datasets.formats_a import codes_to_labels, find_base, load_table

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


class Pamap2(DatasetPlugin):
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
    loader_version = "1"

    def _files(self, root: Path) -> list[Path]:
        base = find_base(root, PREFIXES, "Protocol")
        if base is None:
            return []
        return sorted(p for p in (base / "Protocol").iterdir() if FILE.match(p.name))

    def is_present(self, root: Path) -> bool:
        return bool(self._files(root))

    def load(self, root: Path) -> list[Recording]:
        files = self._files(root)
        if not files:
            raise HarbenchError(f"no PAMAP2 files (Protocol/subject1xx.dat) under {root}")
        mapping = {code: i for i, code in enumerate(self.label_codes)}
        dropped = (0, *OPTIONAL_ACTIVITIES)
        recordings = []
        for path in files:
            subject = int(FILE.match(path.name).group(1))
            table = load_table(path, columns=54)
            labels = codes_to_labels(table[:, 1], mapping, dropped, path)
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
