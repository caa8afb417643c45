"""Daphnet Freezing of Gait (UCI 245): 3 body-worn accelerometers on Parkinson's patients.

Published layout: ``dataset/SxxRyy.txt`` (subject xx, run yy), whitespace-separated, 11 columns:
time [ms], ankle x/y/z, thigh x/y/z, trunk x/y/z [mg], annotation. The axes are horizontal
forward (x), vertical (y) and horizontal lateral (z). Annotation 0 (not part of the experiment)
is dropped; 1 (no freeze) and 2 (freeze) are the two classes. One recording per run file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench_datasets.formats_a import codes_to_labels, load_table

FILE = re.compile(r"^S(\d{2})R(\d{2})\.txt$")
POSITIONS = ("ankle", "thigh", "trunk")
PREFIXES = ("dataset", "dataset_fog_release/dataset", "")


class Daphnet(DatasetPlugin):
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
    loader_version = "1"

    def _files(self, root: Path) -> list[Path]:
        for prefix in PREFIXES:
            folder = root / prefix if prefix else root
            if folder.is_dir():
                files = sorted(p for p in folder.iterdir() if FILE.match(p.name))
                if files:
                    return files
        return []

    def is_present(self, root: Path) -> bool:
        return bool(self._files(root))

    def load(self, root: Path) -> list[Recording]:
        files = self._files(root)
        if not files:
            raise HarbenchError(f"no Daphnet run files (dataset/SxxRyy.txt) under {root}")
        dropped = (0,)
        mapping = {code: i for i, code in enumerate(self.label_codes)}
        recordings = []
        for path in files:
            subject = int(FILE.match(path.name).group(1))
            table = load_table(path, columns=11)
            labels = codes_to_labels(table[:, 10], mapping, dropped, path)
            signals = table[:, 1:10].astype(np.float32)
            recordings.append(Recording(subject, signals, labels, path.stem))
        return recordings

    def fetch_instructions(self, root: Path) -> str:
        return (
            f"Download {self.archive_urls[0]}\n(page: {self.source_url}) and extract it so that "
            f"the run files lie in {root / 'dataset'} (e.g. {root / 'dataset' / 'S01R01.txt'}); "
            "the archive's own dataset_fog_release/dataset/ folder is also accepted."
        )


PLUGINS = (Daphnet,)
