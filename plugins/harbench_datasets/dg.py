"""Daphnet Freezing of Gait (UCI 245): 3 body-worn accelerometers on Parkinson's patients.

Published layout: ``dataset/SxxRyy.txt`` (subject xx, run yy), whitespace-separated, 11 columns:
time [ms], ankle x/y/z, thigh x/y/z, trunk x/y/z [mg], annotation. The axes are horizontal
forward (x), vertical (y) and horizontal lateral (z). Annotation 0 (not part of the experiment)
is dropped; 1 (no freeze) and 2 (freeze) are the two classes. One recording per run file.
A subject's files are its run files present; a subject with none is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, Recording
from harbench_datasets.readers import (
    SubjectFiles,
    extract_hint,
    find_base,
    map_labels,
    numeric_table,
)

np = lazy.module("numpy")  # imported on first use: registering stays light

FILE = re.compile(r"^S(\d{2})R(\d{2})\.txt$")
POSITIONS = ("ankle", "thigh", "trunk")
PREFIXES = ("dataset", "dataset_fog_release/dataset", "")


class Daphnet(SubjectFiles, DatasetPlugin):
    name = "dg"
    title = "Daphnet Freezing of Gait"
    channels = tuple(
        Channel(f"{pos}_acc_{axis}", "acc", pos, "mg") for pos in POSITIONS for axis in "xyz"
    )
    rate_hz = 64.0
    subjects = tuple(range(1, 11))
    classes = ("no_freeze", "freeze")
    label_codes = (1, 2)
    protocol = {"name": "loso"}
    citation = (
        "Bachlin, Plotnik, Roggen, Maidan, Hausdorff, Giladi, Troster. Wearable Assistant for "
        "Parkinson's Disease Patients With the Freezing of Gait Symptom. IEEE Transactions on "
        "Information Technology in Biomedicine 14(2) (2010) 436-446."
    )
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    source_url = "https://archive.ics.uci.edu/dataset/245/daphnet+freezing+of+gait"
    archive_urls = ("https://archive.ics.uci.edu/static/public/245/daphnet+freezing+of+gait.zip",)
    loader_version = "2"  # 2: subject subsets

    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        folder = find_base(root, PREFIXES, FILE) or root / PREFIXES[0]
        runs = sorted(p for p in folder.iterdir() if FILE.match(p.name)) if folder.is_dir() else []
        out = {}
        for subject in subjects:
            mine = [p for p in runs if int(FILE.match(p.name).group(1)) == subject]
            out[subject] = mine or [folder / f"S{subject:02d}R01.txt"]
        return out

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        table = numeric_table(path, columns=11)
        labels = map_labels(table[:, 10], {code: i for i, code in enumerate(self.label_codes)},
                            path, dropped=(0,))
        return [Recording(subject, table[:, 1:10].astype(np.float32), labels, path.stem)]

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(
            self, root / "dataset" / "S01R01.txt",
            " (the archive's own dataset_fog_release/dataset/ folder is also accepted)",
        )


PLUGINS = (Daphnet,)
