"""WISDM Activity Prediction v1.1 (Kwapisz et al. 2010): 36 users, phone accelerometer, 20 Hz.

Raw layout: ``WISDM_ar_v1.1_raw.txt`` (at the root or inside ``WISDM_ar_v1.1/``), records of
``user,activity,timestamp,x,y,z;``. The file is known to be dirty: records that lack the ``;``,
several records on one line, empty fields, trailing commas. The text is split into records on
``;`` and on line ends; a record that is not exactly six valid fields is skipped and counted.
A record whose six fields are valid but that ends with extra empty fields (a trailing comma) is
kept and counted as repaired. The counts are on ``last_load_report`` after ``load`` (and logged).

A recording is a run of records of one user and one activity whose timestamps (the phone's
uptime in ns, per the readme) neither go backwards nor jump by more than ``GAP_NS``.
Accelerations are as published: the readme says 10 = 1 g (so about m/s^2).

Only this release is accepted: the 2019 "WISDM Smartphone and Smartwatch Activity and Biometrics"
dataset (51 subjects, UCI 507) and the Actitracker v2.0 release are different datasets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import FLOAT32_MAX
from harbench_datasets.readers import chosen_subjects, keep_subjects

np = lazy.module("numpy")  # imported on first use: registering stays light

log = logging.getLogger(__name__)

RAW_NAME = "WISDM_ar_v1.1_raw.txt"
FOLDERS = (".", "WISDM_ar_v1.1", "WISDM_ar_latest/WISDM_ar_v1.1")
ACTIVITIES = ("Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing")
GAP_NS = 1_000_000_000  # a timestamp jump over 1 s (20 samples) starts a new recording
OTHER_RELEASES = (
    ("WISDM_at_v2.0_raw.txt", "WISDM Actitracker v2.0"),
    ("data_16*_accel_phone.txt", "the 2019 WISDM smartphone/smartwatch dataset (51 subjects)"),
    ("wisdm-dataset", "the 2019 WISDM smartphone/smartwatch dataset (51 subjects)"),
)
MAX_EXAMPLES = 10


@dataclass
class WisdmLoadReport:
    """What ``load`` kept and skipped; ``examples`` holds the first few skipped records."""

    path: str = ""
    records: int = 0
    skipped: int = 0
    repaired: int = 0
    recordings: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class _Columns:
    user: list[int] = field(default_factory=list)
    activity: list[int] = field(default_factory=list)
    time: list[int] = field(default_factory=list)
    xyz: list[tuple[float, float, float]] = field(default_factory=list)


def raw_file(root: Path) -> Path | None:
    """The v1.1 raw file under ``root``, or None."""
    for folder in FOLDERS:
        path = root / folder / RAW_NAME
        if path.is_file():
            return path
    return None


def other_release(root: Path) -> str | None:
    """The name of another WISDM release found under ``root`` (the known trap), or None."""
    if not root.is_dir():
        return None
    for pattern, release in OTHER_RELEASES:
        if next(root.rglob(pattern), None) is not None:
            return release
    return None


def parse_record(text: str) -> tuple[tuple[int, int, int, float, float, float] | None, str, bool]:
    """(values, why-skipped, repaired) of one ``user,activity,timestamp,x,y,z`` record."""
    fields = [f.strip() for f in text.split(",")]
    repaired = False
    if len(fields) > 6 and not any(fields[6:]):
        fields, repaired = fields[:6], True
    if len(fields) != 6:
        return None, f"expected 6 fields, found {len(fields)}", False
    if not all(fields):
        return None, "empty field", False
    user, activity, stamp, *axes = fields
    if activity not in ACTIVITIES:
        return None, f"unknown activity {activity!r}", False
    try:
        values = (int(user), ACTIVITIES.index(activity), int(stamp), *map(float, axes))
    except ValueError:
        return None, "non-numeric field", False
    if not all(abs(v) <= FLOAT32_MAX for v in values[3:]):  # NaN, inf, or inf in float32
        return None, "non-finite acceleration", False
    return values, "", repaired


def parse_text(text: str, path: Path) -> tuple[_Columns, WisdmLoadReport]:
    """Every valid record of the raw text, in file order, and the report of what was skipped."""
    cols, report = _Columns(), WisdmLoadReport(path=str(path))
    for number, line in enumerate(text.splitlines(), start=1):
        for piece in line.split(";"):
            record = piece.strip()
            if not record:
                continue
            values, why, repaired = parse_record(record)
            if values is None:
                report.skipped += 1
                if len(report.examples) < MAX_EXAMPLES:
                    report.examples.append(f"line {number}: {record[:60]!r} ({why})")
                continue
            report.records += 1
            report.repaired += repaired
            cols.user.append(values[0])
            cols.activity.append(values[1])
            cols.time.append(values[2])
            cols.xyz.append(values[3:])
    return cols, report


def to_recordings(cols: _Columns) -> list[Recording]:
    """Split the record stream where the user or activity changes or the timestamp jumps."""
    user = np.asarray(cols.user, dtype=np.int64)
    activity = np.asarray(cols.activity, dtype=np.int64)
    time = np.asarray(cols.time, dtype=np.int64)
    xyz = np.asarray(cols.xyz, dtype=np.float32).reshape(-1, 3)
    dt = np.diff(time)
    breaks = (np.diff(user) != 0) | (np.diff(activity) != 0) | (dt < 0) | (dt > GAP_NS)
    edges = [0, *(np.flatnonzero(breaks) + 1).tolist(), len(user)]
    recordings = []
    for i, (start, stop) in enumerate(zip(edges[:-1], edges[1:])):
        name = f"user{user[start]:02d}_{ACTIVITIES[activity[start]].lower()}_{i:05d}"
        labels = np.full(stop - start, activity[start], dtype=np.int64)
        recordings.append(Recording(int(user[start]), xyz[start:stop].copy(), labels, name))
    return recordings


class Wisdm(DatasetPlugin):
    name = "wisdm"
    title = "WISDM Activity Prediction v1.1"
    channels = tuple(Channel(f"acc_{a}", "acc", "front_pants_pocket", "m/s^2") for a in "xyz")
    rate_hz = 20.0
    subjects = tuple(range(1, 37))
    classes = ACTIVITIES
    label_codes = ACTIVITIES
    protocol = {"name": "subject_groups", "groups": 10}
    citation = (
        "Kwapisz, Weiss, Moore. Activity Recognition using Cell Phone Accelerometers. "
        "SIGKDD Explorations 12(2) (2010) 74-82."
    )
    licence = "WISDM Lab terms: free for research use, cite the paper"
    source_url = "https://www.cis.fordham.edu/wisdm/dataset.php"
    archive_urls = ("https://www.cis.fordham.edu/wisdm/includes/datasets/latest/WISDM_ar_latest.tar.gz",)
    loader_version = "3"  # 2: subject subsets; 3: values beyond float32 skipped like NaN rows

    last_load_report: WisdmLoadReport | None = None

    def is_present(self, root: Path) -> bool:
        return raw_file(root) is not None

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        chosen_subjects(self, subjects)
        return [raw_file(root) or root / FOLDERS[1] / RAW_NAME]

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        chosen = chosen_subjects(self, subjects)
        path = raw_file(root)
        if path is None:
            raise HarbenchError(self._missing_message(root))
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise HarbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
        cols, report = parse_text(text, path)
        if report.records == 0:
            raise HarbenchError(
                f"{path}: no valid 'user,activity,timestamp,x,y,z;' record "
                f"({report.skipped} malformed)"
            )
        recordings = keep_subjects(to_recordings(cols), chosen)
        report.recordings = len(recordings)
        self.last_load_report = report
        if report.skipped:
            log.warning(
                "%s: skipped %d malformed records (first: %s)",
                path, report.skipped, "; ".join(report.examples[:3]),
            )
        return recordings

    def _missing_message(self, root: Path) -> str:
        found = other_release(root)
        if found:
            return (
                f"{root} holds {found}, not WISDM v1.1 ({RAW_NAME}, 36 users, 6 activities). "
                "This benchmark uses v1.1 only; a widely copied loader points at the wrong release."
            )
        return f"{root}: no {RAW_NAME} (looked in {', '.join(FOLDERS)})"

    def fetch_instructions(self, root: Path) -> str:
        warning = ""
        if other_release(root):
            warning = self._missing_message(root) + "\n"
        return (
            f"{warning}Download {self.archive_urls[0]}\nand extract it into {root} "
            f"(tar xzf), so that {root}/WISDM_ar_v1.1/{RAW_NAME} exists."
        )


PLUGINS = (Wisdm,)
