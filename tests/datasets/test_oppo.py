"""OPPORTUNITY loader on a tiny tree written in the published .dat layout."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError
from tests.datasets.subset import check_written

RUNS = ("ADL1", "ADL2", "ADL3", "ADL4", "ADL5", "Drill")
OPEN_DOOR_1, TOGGLE_SWITCH = 406516, 405506


def dat_rows(labels: list[int], nan_at: int | None = None) -> str:
    """Rows of 250 whitespace-separated columns (1-based numbering as in column_names.txt)."""
    lines = []
    for i, code in enumerate(labels):
        row = [float(c) for c in range(1, 251)]  # column c holds c by default
        row[0] = 33.0 * i  # MILLISEC
        row[37 - 1] = 999.0  # RH accZ: not a used channel
        row[38 - 1] = float(i)  # BACK accX: first channel
        row[134 - 1] = 7.0  # R-SHOE Compass: last channel
        row[243 - 1] = 1.0  # Locomotion label: ignored
        row[250 - 1] = float(code)  # ML_Both_Arms
        cells = [f"{v:g}" for v in row]
        if nan_at == i:
            cells[38 - 1] = "NaN"
        lines.append(" ".join(cells))
    return "\n".join(lines) + "\n"


def write_tree(data_root, *, wrap: bool = True):
    folder = data_root / "oppo" / ("OpportunityUCIDataset/dataset" if wrap else "dataset")
    folder.mkdir(parents=True)
    for s in (1, 2, 3, 4):
        for run in RUNS:
            (folder / f"S{s}-{run}.dat").write_text(dat_rows([0] * 5))
    # S1-ADL1: 150 samples of Open Door 1 -> one 120-sample window (step 60)
    (folder / "S1-ADL1.dat").write_text(dat_rows([OPEN_DOOR_1] * 150, nan_at=10))
    # S2-Drill: 100 null then 100 Toggle Switch -> windows [0,120) null and [60,180) toggle
    (folder / "S2-Drill.dat").write_text(dat_rows([0] * 100 + [TOGGLE_SWITCH] * 100))
    return folder


def test_oppo_windows_channels_and_labels(data_root):
    write_tree(data_root)
    w = harbench.load_windows("oppo", use_cache=False)
    assert len(w.channels) == 77
    assert w.channels[0] == "back_acc_x" and w.channels[9] == "rua_acc_x"
    assert w.channels[45] == "lshoe_EuX" and w.channels[-1] == "rshoe_Compass"
    assert w.rate_hz == 30.0
    assert w.X.shape == (3, 120, 77)
    assert sorted(set(w.subject.tolist())) == [1, 2]
    classes = list(w.classes)
    assert classes[0] == "Null" and len(classes) == 18
    s1 = w.subject == 1
    assert w.y[s1].tolist() == [classes.index("Open Door 1")] == [1]
    assert w.y[~s1].tolist() == [0, classes.index("Toggle Switch")] == [0, 17]
    first = w.X[s1][0]
    np.testing.assert_allclose(first[:, 0], np.arange(120))  # NaN at row 10 interpolated
    assert np.all(first[:, -1] == 7.0)
    assert not np.any(w.X == 999.0)  # unused column 37 is not read
    assert check_written(data_root, "oppo")["windows"] > 0  # the plugin author's kit



def test_oppo_accepts_bare_dataset_folder(data_root):
    write_tree(data_root, wrap=False)
    assert len(harbench.load_windows("oppo", use_cache=False)) == 3


def test_oppo_missing_file_is_named(data_root):
    folder = write_tree(data_root)
    (folder / "S4-Drill.dat").unlink()
    with pytest.raises(HarbenchError, match="S4-Drill.dat"):
        harbench.load_windows("oppo", use_cache=False)


def test_oppo_non_numeric_cell_names_file_and_line(data_root):
    folder = write_tree(data_root)
    lines = (folder / "S3-ADL2.dat").read_text().splitlines()
    cells = lines[2].split()
    cells[40 - 1] = "abc"  # BACK accZ
    lines[2] = " ".join(cells)
    (folder / "S3-ADL2.dat").write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"S3-ADL2\.dat, line 3: non-numeric cell 'abc'"):
        harbench.load_windows("oppo", use_cache=False)


def test_oppo_truncated_row_and_unknown_code_are_named(data_root):
    folder = write_tree(data_root)
    text = (folder / "S1-ADL3.dat").read_text().splitlines()
    text[4] = " ".join(text[4].split()[:100])
    (folder / "S1-ADL3.dat").write_text("\n".join(text) + "\n")
    with pytest.raises(HarbenchError, match=r"S1-ADL3\.dat, line 5: expected 250 columns"):
        harbench.load_windows("oppo", use_cache=False)
    (folder / "S1-ADL3.dat").write_text(dat_rows([0, 0, 123456]))
    with pytest.raises(HarbenchError, match=r"S1-ADL3\.dat, line 3: unknown label 123456"):
        harbench.load_windows("oppo", use_cache=False)
