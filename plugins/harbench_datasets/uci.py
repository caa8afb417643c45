"""UCI-HAR, Human Activity Recognition Using Smartphones (Anguita et al. 2013): 30 subjects,
waist-worn phone, 50 Hz, 6 activities.

Raw layout (``UCI HAR Dataset/`` prefix optional): ``{train,test}/Inertial Signals/
{body_acc,body_gyro,total_acc}_{x,y,z}_{train,test}.txt`` hold one published 128-sample
(2.56 s) segment per line; ``subject_{split}.txt`` and ``y_{split}.txt`` hold its subject and
activity code (1..6). The segments were cut by the authors with 50% overlap, so consecutive
segments share 64 samples; they cannot be stitched back into the raw stream without guessing, so
each segment is one Recording and the window is the segment itself (window_s = step_s = 2.56).

Default protocol: 10 subject groups of 3. The official split (21 train / 9 test subjects) is
``OFFICIAL_SPLIT``, a ``fixed`` protocol, exposed as ``official_split`` on the plugin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench_datasets.formats_b import map_labels, numeric_table

PREFIXES = ("UCI HAR Dataset", ".")
SPLITS = ("train", "test")
SIGNALS = (
    *(f"body_acc_{a}" for a in "xyz"),
    *(f"body_gyro_{a}" for a in "xyz"),
    *(f"total_acc_{a}" for a in "xyz"),
)
SEGMENT = 128
ACTIVITIES = (
    "WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING",
)
TEST_SUBJECTS = (2, 4, 9, 10, 12, 13, 18, 20, 24)
OFFICIAL_SPLIT = {"name": "fixed", "test_subjects": list(TEST_SUBJECTS)}


def base_folder(root: Path) -> Path | None:
    """The folder holding train/ and test/, or None."""
    for prefix in PREFIXES:
        base = root / prefix
        if (base / "train" / "y_train.txt").is_file():
            return base
    return None


def load_split(base: Path, split: str) -> list[Recording]:
    """Every segment of one split as a 128-sample recording of the 9 channels."""
    folder = base / split
    signal_paths = [folder / "Inertial Signals" / f"{s}_{split}.txt" for s in SIGNALS]
    for path in (*signal_paths, folder / f"subject_{split}.txt", folder / f"y_{split}.txt"):
        if not path.is_file():
            raise HarbenchError(f"missing file {path} (UCI-HAR {split} split)")
    subjects = numeric_table(folder / f"subject_{split}.txt", columns=1)[:, 0]
    y_path = folder / f"y_{split}.txt"
    labels = map_labels(numeric_table(y_path, columns=1)[:, 0], {c: c - 1 for c in range(1, 7)},
                        y_path)
    tables = []
    for path in signal_paths:
        table = numeric_table(path, columns=SEGMENT)
        if len(table) != len(labels):
            raise HarbenchError(
                f"{path}: {len(table)} segments, but {y_path} has {len(labels)} labels"
            )
        tables.append(table)
    if len(subjects) != len(labels):
        raise HarbenchError(
            f"{folder / f'subject_{split}.txt'}: {len(subjects)} rows, but {y_path} has "
            f"{len(labels)}"
        )
    segments = np.stack(tables, axis=2).astype(np.float32)  # [N, 128, 9]
    return [
        Recording(int(subjects[i]), segments[i], np.full(SEGMENT, labels[i], dtype=np.int64),
                  f"{split}{i:05d}")
        for i in range(len(labels))
    ]


class UciHar(DatasetPlugin):
    name = "uci"
    title = "UCI-HAR: Human Activity Recognition Using Smartphones"
    channels = tuple(
        Channel(s, "gyro" if "gyro" in s else "acc", "waist", "rad/s" if "gyro" in s else "g")
        for s in SIGNALS
    )
    rate_hz = 50.0
    subjects = tuple(range(1, 31))
    classes = ACTIVITIES
    label_codes = tuple(range(1, 7))
    window_s = 2.56
    step_s = 2.56
    protocol = {"name": "subject_groups", "groups": 10}
    official_split = OFFICIAL_SPLIT
    citation = (
        "Anguita, Ghio, Oneto, Parra, Reyes-Ortiz. A Public Domain Dataset for Human Activity "
        "Recognition Using Smartphones. ESANN 2013."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/240"
    archive_urls = (
        "https://archive.ics.uci.edu/static/public/240/"
        "human+activity+recognition+using+smartphones.zip",
    )
    loader_version = "1"

    def is_present(self, root: Path) -> bool:
        return base_folder(root) is not None

    def load(self, root: Path) -> list[Recording]:
        base = base_folder(root)
        if base is None:
            raise HarbenchError(f"{root}: no 'UCI HAR Dataset/train/y_train.txt'")
        return [rec for split in SPLITS for rec in load_split(base, split)]

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\nunzip it, then unzip the 'UCI HAR Dataset.zip' it "
            f"contains into {root}, so that {root}/UCI HAR Dataset/train/y_train.txt exists."
        )


PLUGINS = (UciHar,)
