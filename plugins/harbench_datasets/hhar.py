"""HHAR, Heterogeneity Activity Recognition (Stisen et al., SenSys 2015), activity experiment.

Published layout: the folder ``Activity recognition exp/`` (the folder level is optional) with
``Phones_accelerometer.csv``, ``Phones_gyroscope.csv``, ``Watch_accelerometer.csv`` and
``Watch_gyroscope.csv``: comma-separated, a header row ``Index,Arrival_Time,Creation_Time,x,y,
z,User,Model,Device,gt``, one row per sample. ``Creation_Time`` is the sensor event's timestamp
in ns (``Arrival_Time``, in ms, is when the app received it and is not used); x, y, z are the
Android sensor values: acceleration in m/s^2 including gravity (total acceleration), angular
rate in rad/s. Users a..i (subjects 1..9); ``Model`` and ``Device`` name the device
(e.g. nexus4, nexus4_1); ``gt`` is bike, sit, stand, walk, stairsup, stairsdown or null (no
activity: unlabelled, -1).

Devices sample "as fast as they can", so rates differ per model (nominal rates, as reported by
the authors and not re-checked here: Nexus 4 and LG watch 200 Hz, Galaxy S3 150 Hz, S3 mini and
Gear 100 Hz, Galaxy S+ 50 Hz) and jitter. Choices made here (the device family, ``file_prefix``,
and the output ``rate_hz`` are class attributes: a variant is one subclass):
- ``hhar`` reads the phones (acc + gyro, worn in a pouch at the waist); ``hhar_watch`` the
  watches (one on each arm, position "wrist"). Both read the same download: ``hhar_watch`` looks
  in its own folder, then in the ``hhar`` folder beside it.
- A recording is one session: a run of one user's one device with one ``gt`` value, sorted by
  ``Creation_Time`` (repeated timestamps keep their first row), split where either stream pauses
  for more than ``MAX_GAP_S``. Labels come from the accelerometer rows.
- Accelerometer and gyroscope of a device are aligned by timestamp: both are linearly
  interpolated onto one uniform grid over the span they share, at the highest of the model's
  nominal rate and the rates the timestamps show, then resampled polyphase (anti-aliased) to
  ``rate_hz`` = 50 Hz.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from harbench import lazy
from harbench.contracts import DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import resample
from harbench_datasets.readers import (
    acc_gyro_channels,
    chosen_subjects,
    extract_hint,
    find_base,
    open_text,
    runs,
)

np = lazy.module("numpy")  # imported on first use: registering stays light

PREFIXES = ("Activity recognition exp", "")
HEADER = ("Index", "Arrival_Time", "Creation_Time", "x", "y", "z", "User", "Model", "Device", "gt")
USERS = "abcdefghi"
GT_CODES = ("bike", "sit", "stand", "walk", "stairsup", "stairsdown")
NULL = "null"
NOMINAL_RATES_HZ = {
    "nexus4": 200.0, "s3": 150.0, "s3mini": 100.0, "samsungold": 50.0,
    "gear": 100.0, "lgwatch": 200.0,
}
MAX_GAP_S = 1.0


CHUNK_ROWS = 200_000
GT_INDEX = {**{gt: i for i, gt in enumerate(GT_CODES)}, NULL: -1}


@dataclass
class Stream:
    """One device's samples of one sensor: time (ns), x/y/z and gt code (-1: null), in parts."""

    model: str
    parts: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time [n] ns, xyz [n, 3], code [n]) sorted by time, repeated timestamps dropped."""
        numbers = np.concatenate([n for n, _ in self.parts])
        codes = np.concatenate([c for _, c in self.parts])
        order = np.argsort(numbers[:, 0], kind="stable")
        numbers, codes = numbers[order], codes[order]
        keep = np.concatenate([[True], np.diff(numbers[:, 0]) > 0])
        return numbers[keep, 0], numbers[keep, 1:], codes[keep].astype(np.int64)


def read_sensor_file(path: Path, users: set[str]) -> dict[tuple[str, str], Stream]:
    """The streams of ``path`` by (user, device), for the users asked; errors name file and line.

    Rows are parsed by numpy in chunks; a chunk it refuses, or that holds an unknown user or gt,
    is checked line by line so that the error names the line.
    """
    streams: dict[tuple[str, str], Stream] = {}
    with open_text(path) as handle:
        header = tuple(h.strip() for h in handle.readline().lstrip("\ufeff").split(","))
        if header != HEADER:
            raise HarbenchError(
                f"{path}, line 1: expected the header {','.join(HEADER)}, found {','.join(header)}"
            )
        first = 2
        while lines := list(islice(handle, CHUNK_ROWS)):
            try:
                read_chunk(lines, users, streams)
            except ValueError:
                check_lines(lines, first, path)
                raise HarbenchError(f"{path}: unreadable rows from line {first}") from None
            first += len(lines)
    return streams


def read_chunk(lines: list[str], users: set[str], streams: dict[tuple[str, str], Stream]) -> None:
    """Add the rows of the asked users to ``streams``; ValueError on anything malformed.

    Numbers are parsed by numpy; the text tail of a row (User,Model,Device,gt) takes few values,
    so each distinct tail is checked once.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a chunk of blank lines
        numbers = np.loadtxt(lines, delimiter=",", usecols=(2, 3, 4, 5), ndmin=2, comments=None)
    tails: dict[str, int] = {}
    index = np.fromiter(
        (tails.setdefault(line.split(",", 6)[-1], len(tails)) for line in lines if line.strip()),
        dtype=np.int64,
    )
    if len(index) != len(numbers):
        raise ValueError("rows and numbers differ")
    groups: dict[tuple[str, str, str], list[int]] = {}
    codes = np.zeros(len(tails), dtype=np.int8)
    for tail, k in tails.items():
        fields = tail.rstrip("\r\n").split(",")
        if len(fields) != 4 or fields[0] not in USERS or fields[3] not in GT_INDEX:
            raise ValueError(f"malformed row tail {tail!r}")
        codes[k] = GT_INDEX[fields[3]]
        if fields[0] in users:
            groups.setdefault((fields[0], fields[2], fields[1]), []).append(k)
    for (user, device, model), ids in groups.items():
        rows = np.isin(index, ids)
        stream = streams.setdefault((user, device), Stream(model))
        stream.parts.append((numbers[rows], codes[index[rows]]))


def check_lines(lines: list[str], first: int, path: Path) -> None:
    """Raise the HarbenchError of the first malformed line (``first`` is the line of lines[0])."""
    for number, line in enumerate(lines, start=first):
        fields = line.rstrip("\r\n").split(",")
        if not line.strip():
            continue
        if len(fields) != len(HEADER):
            raise HarbenchError(
                f"{path}, line {number}: expected {len(HEADER)} fields, found {len(fields)}"
            )
        if fields[6] not in USERS:
            raise HarbenchError(
                f"{path}, line {number}: unknown user {fields[6]!r}; expected one of a..i"
            )
        if fields[9] not in GT_INDEX:
            raise HarbenchError(
                f"{path}, line {number}: unknown gt {fields[9]!r}; expected one of "
                f"{', '.join(GT_CODES)}, {NULL}"
            )
        bad = next((f for f in (2, 3, 4, 5) if not _is_number(fields[f])), None)
        if bad is not None:
            raise HarbenchError(f"{path}, line {number}: non-numeric {HEADER[bad]} {fields[bad]!r}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def grid_rate(model: str, *times_ns: np.ndarray) -> float:
    """The rate of the common grid: the highest of the model's nominal rate and the rates the
    streams' median sample intervals show (so that interpolation never decimates)."""
    rates = [NOMINAL_RATES_HZ.get(model, 0.0)]
    for time in times_ns:
        step = float(np.median(np.diff(time))) if len(time) > 1 else 0.0
        rates.append(1e9 / step if step > 0 else 0.0)
    return max(rates) or 50.0


def sessions(acc: Stream, gyro: Stream, rate_hz: float) -> list[tuple[np.ndarray, int]]:
    """(signals [T, 6] at ``rate_hz``, class index) of every labelled session of one device."""
    ta, xa, code = acc.arrays()
    tg, xg, _ = gyro.arrays()
    if len(ta) < 2 or len(tg) < 2:
        return []
    native = grid_rate(acc.model, ta, tg)
    origin = min(ta[0], tg[0])
    ta, tg = (ta - origin) * 1e-9, (tg - origin) * 1e-9  # seconds from the device's first sample
    cuts = np.flatnonzero((np.diff(ta) > MAX_GAP_S) | (np.diff(code) != 0)) + 1
    edges = [0, *cuts.tolist(), len(ta)]
    out = []
    for start, stop in zip(edges[:-1], edges[1:]):
        if code[start] < 0 or stop - start < 2:
            continue
        begin, end = max(ta[start], tg[0]), min(ta[stop - 1], tg[-1])
        grid = begin + np.arange(int(np.floor((end - begin) * native)) + 1) / native
        if len(grid) < 2:
            continue
        after = np.clip(np.searchsorted(tg, grid), 1, len(tg) - 1)
        covered = (tg[after] - tg[after - 1]) <= MAX_GAP_S  # the gyroscope did not pause here
        for lo, hi in runs(covered.tolist()):
            if not covered[lo] or hi - lo < 2:
                continue
            part = grid[lo:hi]
            signals = np.stack(
                [np.interp(part, ta[start:stop], xa[start:stop, k]) for k in range(3)]
                + [np.interp(part, tg, xg[:, k]) for k in range(3)],
                axis=1,
            )
            labels = np.full(len(part), code[start], dtype=np.int64)
            signals, _ = resample(signals, labels, native, rate_hz)
            out.append((signals, int(code[start])))
    return out


class Hhar(DatasetPlugin):
    name = "hhar"
    title = "HHAR: Heterogeneity Activity Recognition (phones)"
    file_prefix = "Phones"  # Phones_*.csv or Watch_*.csv
    channels = acc_gyro_channels("waist", "m/s^2")
    rate_hz = 50.0
    subjects = tuple(range(1, len(USERS) + 1))
    classes = ("biking", "sitting", "standing", "walking", "stairs_up", "stairs_down")
    label_codes = GT_CODES
    protocol = {"name": "loso"}
    citation = (
        "Stisen, Blunck, Bhattacharya, Prentow, Kjaergaard, Dey, Sonne, Jensen. Smart Devices "
        "are Different: Assessing and Mitigating Mobile Sensing Heterogeneities for Activity "
        "Recognition. ACM SenSys 2015, 127-140."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/344/heterogeneity+activity+recognition"
    archive_urls = (
        "https://archive.ics.uci.edu/ml/machine-learning-databases/00344/"
        "Activity%20recognition%20exp.zip",
    )
    loader_version = "1"
    recordings_from = "hhar-2015"  # phones and watches were worn at once, in the same sessions

    def _paths(self, root: Path) -> tuple[Path, Path]:
        acc_name = f"{self.file_prefix}_accelerometer.csv"
        base = (
            find_base(root, PREFIXES, acc_name)
            or find_base(root.parent / Hhar.name, PREFIXES, acc_name)  # one download for both
            or root / PREFIXES[0]
        )
        return base / acc_name, base / f"{self.file_prefix}_gyroscope.csv"

    def is_present(self, root: Path) -> bool:
        return all(p.is_file() for p in self._paths(root))

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        chosen_subjects(self, subjects)
        return list(self._paths(root))

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        chosen = chosen_subjects(self, subjects)
        acc_path, gyro_path = self._paths(root)
        for path in (acc_path, gyro_path):
            if not path.is_file():
                raise HarbenchError(f"dataset {self.name!r}: missing file {path}")
        users = {USERS[s - 1] for s in chosen}
        acc = read_sensor_file(acc_path, users)
        gyro = read_sensor_file(gyro_path, users)
        absent = sorted(USERS.index(u) + 1 for u in users if not any(k[0] == u for k in acc))
        if subjects is not None and absent:
            raise HarbenchError(
                f"{acc_path}: no rows of subject(s) {absent} (users "
                f"{', '.join(USERS[s - 1] for s in absent)})"
            )
        recordings = []
        for user, device in sorted(set(acc) & set(gyro)):
            subject = USERS.index(user) + 1
            for k, (signals, label) in enumerate(sessions(acc[(user, device)],
                                                          gyro[(user, device)], self.rate_hz)):
                labels = np.full(len(signals), label, dtype=np.int64)
                name = f"{user}_{device}_{GT_CODES[label]}_{k:03d}"
                recordings.append(Recording(subject, signals.astype(np.float32), labels, name))
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(self, root / PREFIXES[0] / "Phones_accelerometer.csv")


class HharWatch(Hhar):
    name = "hhar_watch"
    title = "HHAR: Heterogeneity Activity Recognition (watches)"
    file_prefix = "Watch"
    channels = acc_gyro_channels("wrist", "m/s^2")


PLUGINS = (Hhar, HharWatch)
