"""RealWorld HAR 2016 (Mannheim): smartphone accelerometers at 7 body positions, 15 subjects.

Published layout: ``proband{n}/data/acc_{activity}_csv.zip`` (the tree without ``data/`` is
accepted too), each zip holding ``acc_{activity}_{position}.csv`` with the header
``id,attr_time,attr_x,attr_y,attr_z`` (time in ms, acceleration in m/s^2). Some zips hold
several sessions instead: nested zips ``acc_{activity}_{k}_csv.zip`` (session k) or members
named ``acc_{activity}_{k}_{position}.csv``. Zips are read in memory, never extracted; member
names are checked anyway, and nesting deeper than one level is refused.

Alignment: each session becomes one recording. Every position is sorted by time (repeated
timestamps keep their first row), the common span [latest start, earliest end] is laid on a
50 Hz grid (20 ms steps) and each axis is linearly interpolated onto it. A session that lacks
one of the 7 positions, or whose positions do not overlap, is skipped: the published data has
such gaps (a public loader notes proband2 climbingup without forearm, proband6 jumping without
thigh).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import interpolate_nans
from harbench_datasets.readers import SubjectFiles, extract_hint, find_base, numeric_table

np = lazy.module("numpy")  # imported on first use: registering stays light

ACTIVITIES = (
    "climbingdown", "climbingup", "jumping", "lying", "running", "sitting", "standing", "walking",
)
POSITIONS = ("chest", "forearm", "head", "shin", "thigh", "upperarm", "waist")
PROBAND_DIR = re.compile(r"^proband(\d+)$")
CSV_MEMBER = re.compile(r"^acc_[a-z]+(?:_(\d+))?_(" + "|".join(POSITIONS) + r")\.csv$")
NESTED_ZIP = re.compile(r"^acc_[a-z]+(?:_(\d+))?_csv\.zip$")
PREFIXES = ("", "realworld2016_dataset")
HEADER = ("attr_time", "attr_x", "attr_y", "attr_z")
STEP_MS = 20.0
MAX_MEMBER_BYTES = 1 << 30

Session = dict[str, tuple[str, str]]  # position -> (where, csv text)


def member_parts(name: str, where: str) -> list[str]:
    """The path components of a zip member; unsafe names (absolute, drive, '..') are refused."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts:
        raise HarbenchError(f"{where}: unsafe member name {name!r} (absolute or with '..')")
    return parts


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """The bytes of one member, refusing members that claim more than 1 GiB."""
    if info.file_size > MAX_MEMBER_BYTES:
        raise HarbenchError(f"{where}: member of {info.file_size} bytes is implausibly large")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError) as exc:
        raise HarbenchError(f"{where}: cannot read zip member ({exc})") from None


def collect_sessions(
    data: bytes, where: str, session: int | None, sessions: dict[int, Session], depth: int = 0
) -> None:
    """Walk a zip held in memory: acc CSV members by session number, then by position."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise HarbenchError(f"{where}: not a zip archive") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            base = member_parts(info.filename, where)[-1].lower()
            member = f"{where}!{info.filename}"
            nested = NESTED_ZIP.match(base)
            if nested:
                if depth > 0:
                    raise HarbenchError(f"{member}: zip nested more than one level deep")
                number = int(nested.group(1) or 1)
                collect_sessions(read_member(archive, info, member), member, number, sessions, 1)
                continue
            if not (base.startswith("acc_") and base.endswith(".csv")):
                continue  # readme files and the like
            match = CSV_MEMBER.match(base)
            if not match:
                raise HarbenchError(
                    f"{member}: unexpected member name; expected acc_<activity>[_<k>]_<position>"
                    f".csv with position one of {', '.join(POSITIONS)}"
                )
            number = session if session is not None else int(match.group(1) or 1)
            group = sessions.setdefault(number, {})
            position = match.group(2)
            if position in group:
                raise HarbenchError(f"{member}: a second {position} file for session {number}")
            text = read_member(archive, info, member).decode("utf-8", errors="replace")
            group[position] = (member, text)


def parse_position(where: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """One position's CSV: strictly increasing times [n] (ms) and acceleration [n, 3]."""
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    header = [field.strip().strip('"').lower() for field in first.split(",")]
    missing = [name for name in HEADER if name not in header]
    if missing:
        raise HarbenchError(
            f"{where}, line 1: header lacks {missing}; expected id,attr_time,attr_x,attr_y,attr_z"
        )
    table = numeric_table(where, columns=len(header), delimiter=",", skip_header=1, text=text)
    times = table[:, header.index("attr_time")]
    if np.isnan(times).any():
        raise HarbenchError(f"{where}: attr_time has missing values")
    xyz, _ = interpolate_nans(table[:, [header.index(name) for name in HEADER[1:]]])
    order = np.argsort(times, kind="stable")
    times, xyz = times[order], xyz[order]
    keep = np.concatenate([[True], np.diff(times) > 0])
    return times[keep], xyz[keep]


def align(streams: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """Positions interpolated onto a common 50 Hz grid: [T, 3 * positions], None if no overlap."""
    start = max(times[0] for times, _ in streams.values())
    end = min(times[-1] for times, _ in streams.values())
    if end - start < STEP_MS:
        return None
    grid = start + STEP_MS * np.arange(int((end - start) // STEP_MS) + 1)
    columns = [
        np.interp(grid, streams[pos][0], streams[pos][1][:, axis])
        for pos in POSITIONS
        for axis in range(3)
    ]
    return np.stack(columns, axis=1)


class RealWorld(SubjectFiles, DatasetPlugin):
    name = "rw"
    title = "RealWorld HAR 2016 (accelerometers at 7 body positions)"
    channels = tuple(
        Channel(f"{pos}_acc_{axis}", "acc", pos, "m/s^2") for pos in POSITIONS for axis in "xyz"
    )
    rate_hz = 50.0
    subjects = tuple(range(1, 16))
    classes = ACTIVITIES
    label_codes = ACTIVITIES
    protocol = {"name": "loso"}
    citation = (
        "Sztyler, Stuckenschmidt. On-body Localization of Wearable Devices: An Investigation of "
        "Position-Aware Activity Recognition. IEEE PerCom 2016, 1-9."
    )
    licence = "research use, cite the paper (see the source page)"
    source_url = (
        "https://www.uni-mannheim.de/dws/research/projects/activity-recognition/dataset/"
        "dataset-realworld/"
    )
    archive_urls = (
        "http://wifo5-14.informatik.uni-mannheim.de/sensor/dataset/realworld2016/"
        "realworld2016_dataset.zip",
    )
    loader_version = "2"  # 2: subject subsets

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        base = find_base(root, PREFIXES, PROBAND_DIR) or root
        out = {}
        for subject in subjects:
            folder = base / f"proband{subject}"
            data = folder if (folder / "acc_walking_csv.zip").is_file() else folder / "data"
            out[subject] = [data / f"acc_{activity}_csv.zip" for activity in ACTIVITIES]
        return out

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        recordings = []
        for subject, paths in self.checked_files(root, subjects).items():
            for label, (activity, path) in enumerate(zip(ACTIVITIES, paths)):
                sessions: dict[int, Session] = {}
                collect_sessions(path.read_bytes(), str(path), None, sessions)
                if not sessions:
                    raise HarbenchError(f"{path}: no acc_{activity}_<position>.csv members")
                for number in sorted(sessions):
                    group = sessions[number]
                    if set(group) != set(POSITIONS):
                        continue  # a position was not recorded in this session
                    signals = align({pos: parse_position(*group[pos]) for pos in POSITIONS})
                    if signals is None:
                        continue
                    labels = np.full(len(signals), label, dtype=np.int64)
                    name = f"proband{subject}_{activity}_{number}"
                    recordings.append(Recording(subject, signals.astype(np.float32), labels, name))
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(
            self, root / "proband1" / "data" / "acc_walking_csv.zip",
            "; leave the acc_*_csv.zip files zipped",
        )


PLUGINS = (RealWorld,)
