"""RecGym (Bian et al.): gym workouts with an IMU and a body-capacitance sensor, 10 subjects, 20 Hz.

Raw layout: one ``RecGym.csv`` with the header ``Subject, Position, Session, A_x, A_y, A_z,
G_x, G_y, G_z, C_1, Workout``; the same sensor unit was worn at three positions. Only the wrist
rows are used: 7 channels (acc, gyro, capacitance C_1). A recording is a run of consecutive wrist
rows of one (Subject, Session); the 12 classes include ``Null`` (rest between sets) as a class.
Empty numeric cells are linearly interpolated within their recording. Units are as published
(the readme gives none).

Protocol: 9 folds over the 10 subjects, subject groups of sorted ids (np.array_split), so the
test groups are {1, 2}, {3}, {4}, ..., {10}: every subject is tested exactly once.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import interpolate_nans
from harbench_datasets.readers import chosen_subjects, find_shallow, open_text, runs

np = lazy.module("numpy")  # imported on first use: registering stays light

FILE_NAME = "RecGym.csv"
POSITION = "wrist"
SIGNAL_COLUMNS = ("A_x", "A_y", "A_z", "G_x", "G_y", "G_z", "C_1")
KEY_COLUMNS = ("Subject", "Position", "Session", "Workout")
WORKOUTS = (
    "Adductor", "ArmCurl", "BenchPress", "LegCurl", "LegPress", "Null", "Riding",
    "RopeSkipping", "Running", "Squat", "StairClimber", "Walking",
)
ALIASES = {"StairsClimber": "StairClimber"}  # spelling seen in third-party descriptions


def csv_path(root: Path) -> Path | None:
    """RecGym.csv in ``root`` or in a folder up to two levels below it."""
    return find_shallow(root, FILE_NAME)


def _cell(text: str, path: Path, line: int, column: str) -> float:
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise HarbenchError(
            f"{path}, line {line}: non-numeric cell {text!r} in column {column}"
        ) from None


def _int_cell(text: str, path: Path, line: int, column: str) -> int:
    value = _cell(text, path, line, column)
    if not math.isfinite(value) or not value.is_integer():
        raise HarbenchError(
            f"{path}, line {line}: column {column} must be an integer, got {text!r}"
        )
    return int(value)


def read_wrist_rows(path: Path) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """(subject, session) keys, signals [N, 7] and class indices [N] of the wrist rows."""
    codes = {w: i for i, w in enumerate(WORKOUTS)}
    codes.update({alias: codes[w] for alias, w in ALIASES.items()})
    keys: list[tuple[int, int]] = []
    rows: list[list[float]] = []
    labels: list[int] = []
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in (*KEY_COLUMNS, *SIGNAL_COLUMNS) if c not in header]
        if missing:
            raise HarbenchError(f"{path}, line 1: header lacks columns {missing}; found {header}")
        at = {name: header.index(name) for name in (*KEY_COLUMNS, *SIGNAL_COLUMNS)}
        signal_at = [at[c] for c in SIGNAL_COLUMNS]
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise HarbenchError(
                    f"{path}, line {line}: expected {len(header)} columns, found {len(row)}"
                )
            if row[at["Position"]].strip().lower() != POSITION:
                continue
            workout = row[at["Workout"]].strip()
            if workout not in codes:
                raise HarbenchError(
                    f"{path}, line {line}: unknown workout {workout!r}; "
                    f"expected one of {', '.join(WORKOUTS)}"
                )
            keys.append((
                _int_cell(row[at["Subject"]], path, line, "Subject"),
                _int_cell(row[at["Session"]], path, line, "Session"),
            ))
            rows.append([_cell(row[i], path, line, c) for i, c in zip(signal_at, SIGNAL_COLUMNS)])
            labels.append(codes[workout])
    if not rows:
        raise HarbenchError(f"{path}: no rows with Position {POSITION!r}")
    return keys, np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.int64)


class RecGym(DatasetPlugin):
    name = "recgym"
    title = "RecGym: gym workouts with IMU and body capacitance (wrist)"
    channels = (
        *(Channel(f"acc_{a}", "acc", POSITION, "") for a in "xyz"),
        *(Channel(f"gyro_{a}", "gyro", POSITION, "") for a in "xyz"),
        Channel("capacitance", "capacitance", POSITION, ""),
    )
    rate_hz = 20.0
    subjects = tuple(range(1, 11))
    classes = WORKOUTS
    label_codes = WORKOUTS
    protocol = {"name": "subject_groups", "groups": 9}
    citation = (
        "Bian, Fortes Rey, Yuan, Lukowicz. RecGym: Gym Workouts Recognition Dataset with IMU and "
        "Capacitive Sensor. UCI Machine Learning Repository (2024), doi:10.24432/C5S328."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/1128"
    archive_urls = (
        "https://archive.ics.uci.edu/static/public/1128/"
        "recgym:+gym+workouts+recognition+dataset+with+imu+and+capacitive+sensor-7.zip",
    )
    loader_version = "2"  # 2: subject subsets

    def is_present(self, root: Path) -> bool:
        return csv_path(root) is not None

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        chosen_subjects(self, subjects)
        return [csv_path(root) or root / FILE_NAME]

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        chosen = chosen_subjects(self, subjects)
        path = csv_path(root)
        if path is None:
            raise HarbenchError(f"{root}: no {FILE_NAME}")
        keys, signals, labels = read_wrist_rows(path)
        recordings = []
        for start, stop in runs(keys):
            subject, session = keys[start]
            if subject not in chosen:
                continue
            part, _ = interpolate_nans(signals[start:stop])
            name = f"subject{subject:02d}_session{session}_{start}"
            recordings.append(
                Recording(subject, part.astype(np.float32), labels[start:stop].copy(), name)
            )
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download the RecGym zip from {self.source_url} (or the authors' Kaggle mirror)\n"
            f"and extract it into {root}, so that {root}/{FILE_NAME} exists."
        )


PLUGINS = (RecGym,)
