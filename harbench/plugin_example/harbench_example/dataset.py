"""The example_csv dataset: one CSV file, header subject,recording,label,acc_x,acc_y,acc_z."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording

FILE = "recordings.csv"
HEADER = ["subject", "recording", "label", "acc_x", "acc_y", "acc_z"]


class ExampleCsv(DatasetPlugin):
    name = "example_csv"
    title = "Example CSV dataset"
    channels = tuple(Channel(f"acc_{a}", "acc", "wrist", "g") for a in "xyz")
    rate_hz = 20.0
    subjects = (1, 2, 3, 4)
    classes = ("rest", "walk", "run")
    label_codes = ("rest", "walk", "run")
    window_s = 2.0
    step_s = 1.0
    protocol = {"name": "loso"}
    licence = "CC0-1.0"
    loader_version = "1"  # bump when load() changes what it returns

    def is_present(self, root: Path) -> bool:
        return (root / FILE).is_file()

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        return [root / FILE]

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        import numpy as np

        wanted = None if subjects is None else {int(s) for s in subjects}
        path = root / FILE
        if not path.is_file():
            raise HarbenchError(f"{path} is missing. {self.fetch_instructions(root)}")
        rows: dict[tuple[int, int], list[tuple[int, list[float]]]] = {}
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != HEADER:
                raise HarbenchError(f"{path}, line 1: expected header {','.join(HEADER)}")
            for line, row in enumerate(reader, start=2):
                try:
                    subject, recording = int(row[0]), int(row[1])
                    label = self.label_codes.index(row[2])
                    values = [float(v) for v in row[3:6]]
                except (ValueError, IndexError):
                    message = f"{path}, line {line}: malformed row {row!r}"
                    raise HarbenchError(message) from None
                if wanted is None or subject in wanted:
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
