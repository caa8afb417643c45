"""UCI-HAR, Human Activity Recognition Using Smartphones (Anguita et al. 2013): 30 subjects,
waist-worn phone, 50 Hz, 6 activities.

Raw layout (``UCI HAR Dataset/`` prefix optional): ``{train,test}/Inertial Signals/
{body_acc,body_gyro,total_acc}_{x,y,z}_{train,test}.txt`` hold one published 128-sample
(2.56 s) segment per line; ``subject_{split}.txt`` and ``y_{split}.txt`` hold its subject and
activity code (1..6). The segments were cut by the authors with 50% overlap, so consecutive
segments share 64 samples; they cannot be stitched back into the raw stream without guessing, so
each segment is one Recording and the window is the segment itself (window_s = step_s = 2.56).

Channels: ``total_acc`` is what the accelerometer measured (sensor "acc"), ``body_acc`` the same
with the authors' 0.3 Hz low-pass gravity estimate removed (sensor "acc_body"), both in g; the
gyroscope is in rad/s. Harmonisation takes ``total_acc``.

Default protocol: 10 subject groups of 3. The official split (21 train / 9 test subjects) is
``OFFICIAL_SPLIT``, a ``fixed`` protocol, exposed as ``official_split`` on the plugin.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench_datasets.readers import (
    chosen_subjects,
    keep_subjects,
    map_labels,
    numeric_table,
    require_files,
)

np = lazy.module("numpy")  # imported on first use: registering stays light

PREFIXES = ("UCI HAR Dataset", ".")
SPLITS = ("train", "test")
SIGNALS = (
    *(f"body_acc_{a}" for a in "xyz"),
    *(f"body_gyro_{a}" for a in "xyz"),
    *(f"total_acc_{a}" for a in "xyz"),
)
SENSORS = {"body_acc": "acc_body", "body_gyro": "gyro", "total_acc": "acc"}
SEGMENT = 128
ACTIVITIES = (
    "WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING",
)
TEST_SUBJECTS = (2, 4, 9, 10, 12, 13, 18, 20, 24)
OFFICIAL_SPLIT = {"name": "fixed", "test_subjects": list(TEST_SUBJECTS)}


def base_folder(root: Path) -> Path:
    """The folder holding train/ and test/ (the first layout that has one, else the usual)."""
    for prefix in PREFIXES:
        base = root / prefix
        if (base / "train").is_dir() or (base / "test").is_dir():
            return base
    return root / PREFIXES[0]


def split_of(subject: int) -> str:
    """The official split that holds ``subject``'s segments."""
    return "test" if subject in TEST_SUBJECTS else "train"


def split_files(base: Path, split: str) -> list[Path]:
    """The 9 signal files, then the subject and label files, of one split."""
    folder = base / split
    return [
        *(folder / "Inertial Signals" / f"{s}_{split}.txt" for s in SIGNALS),
        folder / f"subject_{split}.txt",
        folder / f"y_{split}.txt",
    ]


def load_split(base: Path, split: str) -> list[Recording]:
    """Every segment of one split as a 128-sample recording of the 9 channels."""
    folder = base / split
    signal_paths = split_files(base, split)[: len(SIGNALS)]
    subjects = numeric_table(folder / f"subject_{split}.txt", columns=1)[:, 0]
    y_path = folder / f"y_{split}.txt"
    labels = map_labels(
        numeric_table(y_path, columns=1)[:, 0], {c: c - 1 for c in range(1, 7)}, y_path
    )
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
        Channel(s, SENSORS[s.rsplit("_", 1)[0]], "waist", "rad/s" if "gyro" in s else "g")
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
    recordings_from = "uci-hapt-2012"  # the HAPT recordings, cut into segments
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
    loader_version = "2"  # 2: subject subsets; total_acc declared as the total acceleration

    def is_present(self, root: Path) -> bool:
        return any(p.is_file() for p in self.files(root))

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        splits = {split_of(s) for s in chosen_subjects(self, subjects)}
        base = base_folder(root)
        return [path for split in SPLITS if split in splits for path in split_files(base, split)]

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        chosen = chosen_subjects(self, subjects)
        base = base_folder(root)
        require_files(self, {s: split_files(base, split_of(s)) for s in chosen}, base)
        splits = {split_of(s) for s in chosen}
        recordings = [rec for split in SPLITS if split in splits for rec in load_split(base, split)]
        return keep_subjects(recordings, chosen)

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\nunzip it, then unzip the 'UCI HAR Dataset.zip' it "
            f"contains into {root}, so that {root}/UCI HAR Dataset/train/y_train.txt exists."
        )


PLUGINS = (UciHar,)
