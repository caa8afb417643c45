"""Skoda Mini Checkpoint, right arm: 10 accelerometers on one car-factory worker, ~98 Hz.

Published layout: ``right_classall_clean.mat`` (top level, or inside the archive's
``SkodaMiniCP_2015_08/`` folder) holding the matrix ``right_classall_clean`` [N, 71]: column 0
the label, then 7 columns per sensor: sensor id, calibrated acc x/y/z, raw acc x/y/z. Used: the
calibrated x/y/z of the 10 sensors (30 channels). Label 32 (null class) is dropped; 48..57 are
the ten checkpoint gestures. The stream is one recording, resampled polyphase 98 -> 33 Hz
(labels: nearest sample).

The same archive also ships ``dataset_cp_2007_12.mat``: the gestures cut into separate
instances without the null class or the continuous stream. It cannot stand in for the stream,
so it is only named in the error when the stream file is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import interpolate_nans, resample
from harbench_datasets.readers import chosen_subjects, extract_hint, map_codes, mat_matrix, read_mat

np = lazy.module("numpy")  # imported on first use: registering stays light

VARIABLE = "right_classall_clean"
FILE = f"{VARIABLE}.mat"
FOLDERS = ("", "SkodaMiniCP_2015_08", "SkodaMiniCP")
SEGMENTED_FILE = "dataset_cp_2007_12.mat"
N_SENSORS, COLUMNS_PER_SENSOR = 10, 7
NULL_CLASS = 32
CALIBRATED_COLUMNS = tuple(
    1 + s * COLUMNS_PER_SENSOR + 1 + axis for s in range(N_SENSORS) for axis in range(3)
)


class SkodaRight(DatasetPlugin):
    name = "skodar"
    title = "Skoda Mini Checkpoint (right arm)"
    channels = tuple(
        Channel(f"right_arm_s{s:02d}_acc_{axis}", "acc", "right_arm", "")
        for s in range(1, N_SENSORS + 1)
        for axis in "xyz"
    )
    rate_hz = 33.0
    native_rate_hz = 98.0
    subjects = (1,)
    classes = (
        "write_on_notepad", "open_hood", "close_hood", "check_gaps_front_door",
        "open_left_front_door", "close_left_front_door", "close_both_left_doors",
        "check_trunk_gaps", "open_and_close_trunk", "check_steering_wheel",
    )
    label_codes = tuple(range(48, 58))
    protocol = {"name": "window_kfold", "k": 5}
    citation = (
        "Zappi, Lombriser, Stiefmeier, Farella, Roggen, Benini, Troster. Activity Recognition "
        "from On-Body Sensors: Accuracy-Power Trade-Off by Dynamic Sensor Selection. European "
        "Conference on Wireless Sensor Networks (EWSN) 2008, 17-33."
    )
    licence = "research use, cite the paper (see the source page)"
    source_url = "http://har-dataset.org/doku.php?id=wiki:dataset"
    archive_urls = (
        "http://har-dataset.org/lib/exe/fetch.php?media=wiki:dataset:skodaminicp:"
        "skodaminicp_2015_08.zip",
    )
    loader_version = "2"  # 2: subject subsets (one subject)

    def _file(self, root: Path) -> Path | None:
        for folder in FOLDERS:
            path = (root / folder if folder else root) / FILE
            if path.is_file():
                return path
        return None

    def is_present(self, root: Path) -> bool:
        return self._file(root) is not None

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        if not chosen_subjects(self, subjects):
            return []
        return [self._file(root) or root / FOLDERS[1] / FILE]

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        if not chosen_subjects(self, subjects):
            return []
        path = self._file(root)
        if path is None:
            raise HarbenchError(self._missing_message(root))
        width = 1 + N_SENSORS * COLUMNS_PER_SENSOR
        matrix = mat_matrix(read_mat(path, [VARIABLE]), VARIABLE, path, columns=width)
        mapping = {code: i for i, code in enumerate(self.label_codes)}
        labels, bad = map_codes(matrix[:, 0], mapping, (NULL_CLASS,))
        if bad is not None:
            raise HarbenchError(
                f"{path}, variable {VARIABLE!r}, row {bad + 1}: unknown label code "
                f"{float(matrix[bad, 0])}; expected {NULL_CLASS} or 48..57"
            )
        signals, _ = interpolate_nans(matrix[:, list(CALIBRATED_COLUMNS)])
        signals, labels = resample(signals, labels, self.native_rate_hz, self.rate_hz)
        return [Recording(1, signals.astype(np.float32), labels.astype(np.int64), "right_arm")]

    def _missing_message(self, root: Path) -> str:
        expected = " or ".join(str((root / f if f else root) / FILE) for f in FOLDERS[:2])
        segmented = [root / f / SEGMENTED_FILE if f else root / SEGMENTED_FILE for f in FOLDERS]
        found = next((p for p in segmented if p.is_file()), None)
        if found is not None:
            return (
                f"found {found}, the segmented Skoda variant (gesture instances without the null "
                f"class or the continuous stream), but not {FILE}, the continuous right-arm "
                f"stream this loader reads: expected {expected}. Both ship in the same archive."
            )
        return f"missing file: expected {expected}"

    def fetch_instructions(self, root: Path) -> str:
        return extract_hint(
            self, root / "SkodaMiniCP_2015_08" / FILE, f" (or {root / FILE})"
        )


PLUGINS = (SkodaRight,)
