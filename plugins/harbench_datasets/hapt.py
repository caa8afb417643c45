"""UCI HAPT (341), raw signals: waist smartphone accelerometer [g] and gyroscope [rad/s], 50 Hz.

Published layout: ``RawData/acc_expXX_userYY.txt`` and ``RawData/gyro_expXX_userYY.txt``
(space-separated, 3 columns, one row per sample) and ``RawData/labels.txt`` (experiment, user,
activity 1..12, start, end). Start and end are read as 0-based sample indices, end inclusive:
the labelling of the HAPT copy in hapt_embedded (e.g. "1 1 5 250 1232" labels rows 250..1232).
Samples that no label row covers are unlabelled (-1). One recording per experiment.

A user's files are the experiments labels.txt names for that user (and any other
``acc_expXX_userYY.txt`` present): loading a subset of users needs only theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from harbench import lazy
from harbench.contracts import HarbenchError, Recording
from harbench_datasets.hapt_embedded import HaptFacts
from harbench_datasets.readers import (
    SubjectFiles,
    extract_hint,
    find_base,
    line_of_row,
    numeric_table,
)

np = lazy.module("numpy")  # imported on first use: registering stays light

ACC_FILE = re.compile(r"^acc_exp(\d{2})_user(\d{2})\.txt$")
PREFIXES = ("", "HAPT Data Set", "HAPT_Data_Set")
LABELS = "RawData/labels.txt"


def listed_experiments(raw: Path) -> set[tuple[int, int]]:
    """(experiment, user) pairs named by labels.txt or by an acc file, read leniently."""
    found = {
        (int(m.group(1)), int(m.group(2)))
        for m in (ACC_FILE.match(p.name) for p in (raw.iterdir() if raw.is_dir() else ()))
        if m
    }
    try:
        lines = (raw / "labels.txt").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
            found.add((int(fields[0]), int(fields[1])))
    return found


def label_segments(
    table: np.ndarray, path: Path, lengths: dict[tuple[int, int], int], n_classes: int
) -> dict[tuple[int, int], np.ndarray]:
    """Per (experiment, user) in ``lengths``: labels [T] from the rows of labels.txt (rows of
    other users are skipped); -1 where none applies."""
    users = {user for _, user in lengths}
    out = {key: np.full(n, -1, dtype=np.int64) for key, n in lengths.items()}

    def fail(index: int, problem: str) -> HarbenchError:
        return HarbenchError(f"{path}, line {line_of_row(path, index)}: {problem}")

    for index, row in enumerate(table):
        if not np.all(row == np.round(row)):
            raise fail(index, f"expected 5 integers, got {row.tolist()}")
        exp, user, code, start, end = (int(v) for v in row)
        if user not in users:
            continue
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


class Hapt(SubjectFiles, HaptFacts):
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
    loader_version = "2"  # 2: subject subsets

    def _raw(self, root: Path) -> Path:
        base = find_base(root, PREFIXES, LABELS) or find_base(root, PREFIXES, "RawData")
        return (base or root) / "RawData"

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        raw = self._raw(root)
        experiments = sorted(listed_experiments(raw))
        return {
            user: [
                raw / "labels.txt",
                *(
                    raw / f"{kind}_exp{exp:02d}_user{user:02d}.txt"
                    for exp, owner in experiments
                    if owner == user
                    for kind in ("acc", "gyro")
                ),
            ]
            for user in subjects
        }

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        raw = self._raw(root)
        signals: dict[tuple[int, int], np.ndarray] = {}
        for user, paths in self.checked_files(root, subjects).items():
            for acc_path in (p for p in paths if ACC_FILE.match(p.name)):
                exp = int(ACC_FILE.match(acc_path.name).group(1))
                gyro_path = raw / acc_path.name.replace("acc_", "gyro_", 1)
                acc = numeric_table(acc_path, columns=3)
                gyro = numeric_table(gyro_path, columns=3)
                if len(acc) != len(gyro):
                    raise HarbenchError(
                        f"{acc_path} has {len(acc)} rows but {gyro_path} has {len(gyro)}; "
                        "expected one gyro row per acc row"
                    )
                signals[(exp, user)] = np.concatenate([acc, gyro], axis=1).astype(np.float32)
        table = numeric_table(raw / "labels.txt", columns=5)
        lengths = {key: len(value) for key, value in signals.items()}
        labels = label_segments(table, raw / "labels.txt", lengths, len(self.classes))
        return [
            Recording(user, signals[key], labels[key], f"exp{key[0]:02d}_user{user:02d}")
            for key in sorted(signals)
            for user in (key[1],)
        ]

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(
            self, root / LABELS, " (the embedded copy 'hapt_embedded' needs no download)"
        )


PLUGINS = (Hapt,)
