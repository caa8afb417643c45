"""UCI HAPT (341), raw signals: waist smartphone accelerometer [g] and gyroscope [rad/s], 50 Hz.

Published layout: ``RawData/acc_expXX_userYY.txt`` and ``RawData/gyro_expXX_userYY.txt``
(space-separated, 3 columns, one row per sample) and ``RawData/labels.txt`` (experiment, user,
activity 1..12, start, end). Start and end are read as 0-based sample indices, end inclusive:
the labelling of the HAPT copy in hapt_embedded (e.g. "1 1 5 250 1232" labels rows 250..1232).
Samples that no label row covers are unlabelled (-1). One recording per experiment.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harbench.contracts import HarbenchError, Recording
from harbench_datasets.formats_a import find_base, line_of_row, load_table
from harbench_datasets.hapt_embedded import HaptFacts

ACC_FILE = re.compile(r"^acc_exp(\d{2})_user(\d{2})\.txt$")
PREFIXES = ("", "HAPT Data Set", "HAPT_Data_Set")
LABELS = "RawData/labels.txt"


def label_segments(
    table: np.ndarray, path: Path, lengths: dict[tuple[int, int], int], n_classes: int
) -> dict[tuple[int, int], np.ndarray]:
    """Per (experiment, user): labels [T] from the rows of labels.txt; -1 where none applies."""
    out = {key: np.full(n, -1, dtype=np.int64) for key, n in lengths.items()}

    def fail(index: int, problem: str) -> HarbenchError:
        return HarbenchError(f"{path}, line {line_of_row(path, index)}: {problem}")

    for index, row in enumerate(table):
        if not np.all(row == np.round(row)):
            raise fail(index, f"expected 5 integers, got {row.tolist()}")
        exp, user, code, start, end = (int(v) for v in row)
        if (exp, user) not in out:
            raise fail(
                index,
                f"experiment {exp:02d} of user {user:02d} has no "
                f"acc_exp{exp:02d}_user{user:02d}.txt in {path.parent}",
            )
        if not 1 <= code <= n_classes:
            raise fail(index, f"activity {code} is not 1..{n_classes}")
        n = lengths[(exp, user)]
        if not 0 <= start <= end < n:
            raise fail(
                index,
                f"segment {start}..{end} lies outside the {n} samples of experiment {exp:02d}",
            )
        out[(exp, user)][start : end + 1] = code - 1
    return out


class Hapt(HaptFacts):
    name = "hapt"
    title = "UCI HAPT (Smartphone-Based Recognition of Human Activities and Postural Transitions)"
    source_url = (
        "https://archive.ics.uci.edu/dataset/341/"
        "smartphone+based+recognition+of+human+activities+and+postural+transitions"
    )
    archive_urls = (
        "https://archive.ics.uci.edu/static/public/341/"
        "smartphone+based+recognition+of+human+activities+and+postural+transitions.zip",
    )
    loader_version = "1"

    def _raw(self, root: Path) -> Path | None:
        base = find_base(root, PREFIXES, LABELS)
        return None if base is None else base / "RawData"

    def is_present(self, root: Path) -> bool:
        raw = self._raw(root)
        return raw is not None and any(ACC_FILE.match(p.name) for p in raw.iterdir())

    def load(self, root: Path) -> list[Recording]:
        raw = self._raw(root)
        if raw is None:
            raise HarbenchError(f"missing file {root / LABELS}")
        signals: dict[tuple[int, int], np.ndarray] = {}
        for acc_path in sorted(p for p in raw.iterdir() if ACC_FILE.match(p.name)):
            exp, user = (int(g) for g in ACC_FILE.match(acc_path.name).groups())
            gyro_path = raw / acc_path.name.replace("acc_", "gyro_", 1)
            if not gyro_path.is_file():
                raise HarbenchError(f"missing file {gyro_path} (the partner of {acc_path.name})")
            acc = load_table(acc_path, columns=3)
            gyro = load_table(gyro_path, columns=3)
            if len(acc) != len(gyro):
                raise HarbenchError(
                    f"{acc_path} has {len(acc)} rows but {gyro_path} has {len(gyro)}; "
                    "expected one gyro row per acc row"
                )
            signals[(exp, user)] = np.concatenate([acc, gyro], axis=1).astype(np.float32)
        if not signals:
            raise HarbenchError(f"no acc_expXX_userYY.txt files in {raw}")
        table = load_table(raw / "labels.txt", columns=5)
        lengths = {key: len(value) for key, value in signals.items()}
        labels = label_segments(table, raw / "labels.txt", lengths, len(self.classes))
        recordings = []
        for exp, user in sorted(signals):
            name = f"exp{exp:02d}_user{user:02d}"
            recordings.append(Recording(user, signals[(exp, user)], labels[(exp, user)], name))
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\n(page: {self.source_url}) and extract it into "
            f"{root} so that {root / LABELS} exists (the embedded copy 'hapt_embedded' needs no "
            "download)."
        )


PLUGINS = (Hapt,)
