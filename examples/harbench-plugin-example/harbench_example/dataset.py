"""A dataset stored as one CSV file: subject,recording,label,acc_x,acc_y,acc_z."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording

FILE = "recordings.csv"
HEADER = ["subject", "recording", "label", "acc_x", "acc_y", "acc_z"]


class ExampleCsv(DatasetPlugin):
    name = "example_csv"
    title = "Example CSV dataset (third-party plugin)"
    channels = tuple(Channel(f"acc_{a}", "acc", "wrist", "g") for a in "xyz")
    rate_hz = 20.0
    subjects = (1, 2, 3, 4)
    classes = ("rest", "walk", "run")
    label_codes = ("rest", "walk", "run")
    window_s = 2.0
    step_s = 1.0
    protocol = {"name": "loso"}
    licence = "CC0"

    def is_present(self, root: Path) -> bool:
        return (root / FILE).is_file()

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        """Every subject is in the one file."""
        return [root / FILE]

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        """The recordings of ``subjects`` (None: all); rows of other subjects are skipped."""
        wanted = set(self.subjects if subjects is None else subjects)
        path = root / FILE
        rows: dict[tuple[int, int], list[tuple[int, list[float]]]] = {}
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != HEADER:
                raise HarbenchError(f"{path}, line 1: expected header {','.join(HEADER)}")
            for line, row in enumerate(reader, start=2):
                try:
                    subject, recording = int(row[0]), int(row[1])
                    label = self.classes.index(row[2])
                    values = [float(v) for v in row[3:6]]
                except (ValueError, IndexError):
                    raise HarbenchError(f"{path}, line {line}: malformed row {row!r}") from None
                if subject in wanted:
                    rows.setdefault((subject, recording), []).append((label, values))
        return [
            Recording(
                subject=subject,
                signals=np.array([v for _, v in samples], dtype=np.float32),
                labels=np.array([lab for lab, _ in samples], dtype=np.int64),
                name=f"s{subject}r{recording}",
            )
            for (subject, recording), samples in sorted(rows.items())
        ]

    def fetch_instructions(self, root: Path) -> str:
        return f"Write {root / FILE} with the header {','.join(HEADER)}"
