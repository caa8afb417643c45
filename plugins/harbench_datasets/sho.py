"""Shoaib et al. 2014 (SHO): 10 participants, 5 smartphones on the body, 50 Hz, 7 activities.

Raw layout: ``Participant_{1-10}.csv``, usually inside ``DataSet/`` (the archive's folder is
``sensors-activity-recognition-dataset-shoaib/DataSet``; ``DataCollected/`` is accepted too).
Row 1 names the phone positions (Left_pocket, Right_pocket, Wrist, Upper_arm, Belt), row 2 the
fields. Each position is a 13-column block ``time_stamp, Ax, Ay, Az, Lx, Ly, Lz, Gx, Gy, Gz,
Mx, My, Mz``; blocks are separated by an empty column and the activity label (a string) is the
last column, 70 in all. Blocks are found from the ``time_stamp`` headers, so a file without the
separators also loads. Channels: acc (A, total acceleration, sensor "acc"), linear acc (L,
gravity removed, sensor "acc_body"), gyro (G), magnetometer (M), x/y/z, per position. The
published typo ``upsatirs`` is read as upstairs; an empty label is
unlabelled (-1).
Participants performed the activities one after the other, so each run of one activity in a
file is one recording; empty cells are linearly interpolated within it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import interpolate_nans
from harbench_datasets.readers import SubjectFiles, find_shallow, open_text, runs

np = lazy.module("numpy")  # imported on first use: registering stays light

POSITIONS = ("left_pocket", "right_pocket", "wrist", "upper_arm", "belt")
FIELDS = ("Ax", "Ay", "Az", "Lx", "Ly", "Lz", "Gx", "Gy", "Gz", "Mx", "My", "Mz")
SENSORS = {"A": ("acc", "m/s^2"), "L": ("acc_body", "m/s^2"), "G": ("gyro", "rad/s"),
           "M": ("mag", "uT")}
ACTIVITIES = ("walking", "standing", "jogging", "sitting", "biking", "upstairs", "downstairs")
TYPOS = {"upsatirs": "upstairs"}
SUBJECTS = tuple(range(1, 11))
# A .rar, which harbench's fetcher does not extract: it is named in fetch_instructions instead.
RAR_URL = (
    "https://www.utwente.nl/en/eemcs/ps/dataset-folder/sensors-activity-recognition-dataset-shoaib.rar"
)


def file_name(subject: int) -> str:
    return f"Participant_{subject}.csv"


def data_folder(root: Path) -> Path:
    """The folder holding Participant_*.csv: ``root`` or a folder up to two levels below it."""
    found = find_shallow(root, "Participant_*.csv")
    return found.parent if found else root / "DataSet"


def block_columns(path: Path, positions_row: list[str], header: list[str]) -> list[int]:
    """0-based column of each channel, in POSITIONS x FIELDS order, from the two header rows."""
    starts = [i for i, h in enumerate(header) if h.strip().lower() == "time_stamp"]
    if len(starts) != len(POSITIONS):
        raise HarbenchError(
            f"{path}, line 2: expected {len(POSITIONS)} 'time_stamp' blocks, found {len(starts)}"
        )
    by_position: dict[str, int] = {}
    for k, start in enumerate(starts):
        names = [h.strip() for h in header[start + 1:start + 1 + len(FIELDS)]]
        if names != list(FIELDS):
            raise HarbenchError(
                f"{path}, line 2: block at column {start + 1} should be time_stamp, "
                f"{', '.join(FIELDS)}; found {names}"
            )
        label = positions_row[start].strip().lower() if start < len(positions_row) else ""
        position = label if label in POSITIONS else POSITIONS[k]
        if position in by_position:
            raise HarbenchError(f"{path}, line 1: position {position!r} appears twice")
        by_position[position] = start
    return [by_position[p] + 1 + f for p in POSITIONS for f in range(len(FIELDS))]


def _numbers(cells: list[str], path: Path, line: int) -> list[float]:
    try:
        return [float(c) for c in cells]
    except ValueError:
        out = []
        for c in cells:
            c = c.strip()
            if not c:
                out.append(math.nan)
                continue
            try:
                out.append(float(c))
            except ValueError:
                raise HarbenchError(f"{path}, line {line}: non-numeric cell {c!r}") from None
        return out


def _label(text: str, path: Path, line: int) -> int:
    name = text.strip().lower()
    name = TYPOS.get(name, name)
    if not name:
        return -1
    if name not in ACTIVITIES:
        raise HarbenchError(
            f"{path}, line {line}: unknown activity {text.strip()!r}; "
            f"expected one of {', '.join(ACTIVITIES)}"
        )
    return ACTIVITIES.index(name)


def read_participant(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Signals [T, 60] (NaN where empty) and labels [T] of one participant file."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        positions_row = next(reader, [])
        header = next(reader, [])
        columns = block_columns(path, positions_row, header)
        width = None  # set by the first data row: the header may lack the label's cell
        rows, labels = [], []
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if width is None:
                width = len(row)
                if width < max(columns) + 2:
                    raise HarbenchError(
                        f"{path}, line {line}: expected the {len(columns)} sensor columns and "
                        f"a label column ({max(columns) + 2} or more), found {width}"
                    )
            if len(row) != width:
                raise HarbenchError(
                    f"{path}, line {line}: expected {width} columns, found {len(row)}"
                )
            rows.append(_numbers([row[c] for c in columns], path, line))
            labels.append(_label(row[-1], path, line))
    if not rows:
        raise HarbenchError(f"{path}: no data rows after the two header rows")
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.int64)


def _channels() -> tuple[Channel, ...]:
    return tuple(
        Channel(f"{p}_{SENSORS[f[0]][0]}_{f[1].lower()}", SENSORS[f[0]][0], p, SENSORS[f[0]][1])
        for p in POSITIONS
        for f in FIELDS
    )


class Shoaib(SubjectFiles, DatasetPlugin):
    name = "sho"
    title = "Shoaib et al. 2014: five body-worn smartphones"
    channels = _channels()
    rate_hz = 50.0
    subjects = SUBJECTS
    classes = ACTIVITIES
    label_codes = ACTIVITIES
    protocol = {"name": "subject_groups", "groups": 5}
    citation = (
        "Shoaib, Bosch, Incel, Scholten, Havinga. Fusion of Smartphone Motion Sensors for "
        "Physical Activity Recognition. Sensors 14(6) (2014) 10146-10176."
    )
    licence = "research use, cite the paper (University of Twente PS group)"
    source_url = "https://www.utwente.nl/en/eemcs/ps/research/dataset/"
    loader_version = "2"  # 2: subject subsets; linear acceleration declared as body acceleration

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        folder = data_folder(root)
        return {s: [folder / file_name(s)] for s in subjects}

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        signals, labels = read_participant(path)
        recordings = []
        for start, stop in runs(labels.tolist()):
            part, _ = interpolate_nans(signals[start:stop])
            act = ACTIVITIES[labels[start]] if labels[start] >= 0 else "unlabelled"
            recordings.append(Recording(
                subject, part.astype(np.float32), labels[start:stop].copy(),
                f"participant{subject:02d}_{act}_{start}",
            ))
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download the 'Sensors activity recognition' dataset of Shoaib et al. (2014), "
            f"listed at {self.source_url}:\n  {RAR_URL}\nand extract the .rar "
            f"(unrar or 7z) into {root}, so that {root}/sensors-activity-recognition-dataset-"
            f"shoaib/DataSet/{file_name(1)} exists (Participant_*.csv up to two folders deep)."
        )


PLUGINS = (Shoaib,)
