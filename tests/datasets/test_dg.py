"""Daphnet FoG loader on tiny run files in the published layout (dataset/SxxRyy.txt)."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError
from tests.datasets.subset import check_written

MS_PER_SAMPLE = 1000 / 64


def run_text(subject: int, annotations: list[int]) -> str:
    """Rows: time [ms], 9 accelerations [mg] (column j holds (j+1)*10 + subject), annotation."""
    rows = []
    for i, code in enumerate(annotations):
        acc = " ".join(str((j + 1) * 10 + subject) for j in range(9))
        rows.append(f"{round(i * MS_PER_SAMPLE)} {acc} {code}")
    return "\n".join(rows) + "\n"


def write_run(data_root, name: str, text: str):
    folder = data_root / "dg" / "dataset"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def write_other_subjects(data_root):
    """A one-row run (annotation 0: outside the experiment) for every subject without a run."""
    folder = data_root / "dg" / "dataset"
    for subject in range(1, 11):
        if not list(folder.glob(f"S{subject:02d}R*.txt")):
            write_run(data_root, f"S{subject:02d}R01.txt", run_text(subject, [0]))


def test_dg_windows_channels_and_labels(data_root):
    # 200 samples outside the experiment (0), 600 without freeze (1), 300 freezing (2)
    write_run(data_root, "S01R01.txt", run_text(1, [0] * 200 + [1] * 600 + [2] * 300))
    write_run(data_root, "S02R01.txt", run_text(2, [2] * 300))
    write_other_subjects(data_root)
    w = harbench.load_windows("dg", use_cache=False)
    assert w.rate_hz == 64.0 and w.X.shape == (7, 256, 9)
    assert w.channels[:3] == ("ankle_acc_x", "ankle_acc_y", "ankle_acc_z")
    assert w.channels[-1] == "trunk_acc_z" and len(w.channels) == 9
    assert w.classes == ("no_freeze", "freeze")
    # S01R01: starts 0..768 step 128; the first window is mostly annotation 0 (dropped)
    assert w.y[w.subject == 1].tolist() == [0, 0, 0, 0, 0, 1]
    assert w.y[w.subject == 2].tolist() == [1]  # code 2 (freeze) -> class 1
    # the time column and the annotation are not channels
    np.testing.assert_array_equal(w.X[0, 0], [(j + 1) * 10 + 1 for j in range(9)])
    assert check_written(data_root, "dg")["windows"] > 0  # the plugin author's kit



def test_dg_not_present_says_where_to_get_it(data_root):
    with pytest.raises(HarbenchError, match="daphnet"):
        harbench.load_windows("dg", use_cache=False)


def test_dg_truncated_row_names_file_and_line(data_root):
    lines = run_text(1, [1] * 300).splitlines()
    lines[6] = " ".join(lines[6].split()[:10])  # line 7 lost its annotation
    path = write_run(data_root, "S03R02.txt", "\n".join(lines) + "\n")
    write_other_subjects(data_root)
    with pytest.raises(HarbenchError, match=r"S03R02\.txt, line 7: expected 11 columns, found 10"):
        harbench.load_windows("dg", use_cache=False)
    assert path.is_file()


def test_dg_unknown_annotation_names_file_and_line(data_root):
    write_run(data_root, "S01R01.txt", run_text(1, [1] * 9 + [3] + [1] * 290))
    write_other_subjects(data_root)
    with pytest.raises(HarbenchError, match=r"S01R01\.txt, line 10: unknown label 3;"):
        harbench.load_windows("dg", use_cache=False)


def test_dg_missing_subject_is_named_and_a_subset_loads(data_root):
    write_run(data_root, "S01R01.txt", run_text(1, [1] * 300))
    write_run(data_root, "S02R01.txt", run_text(2, [2] * 300))
    with pytest.raises(HarbenchError, match=r"for subject\(s\) 3, 4, 5, 6, 7, 8, 9, 10: "
                       r"dataset/S03R01\.txt"):
        harbench.load_windows("dg", use_cache=False)
    plugin = harbench.plugins.get("datasets", "dg")
    recordings = plugin.load(data_root / "dg", subjects=[2])
    assert [r.name for r in recordings] == ["S02R01"]
    assert [p.name for p in plugin.files(data_root / "dg", subjects=[1, 2])] == [
        "S01R01.txt", "S02R01.txt"]
