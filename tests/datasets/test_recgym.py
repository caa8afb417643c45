"""RecGym loader on a tiny RecGym.csv in the published column layout."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError, plugins
from harbench.data.protocols import make_folds
from harbench.data.windows import Windows
from tests.datasets.subset import check_written

HEADER = "Subject,Position,Session,A_x,A_y,A_z,G_x,G_y,G_z,C_1,Workout"


def rows(subject: int, position: str, session: int, workouts: list[str]) -> list[str]:
    value = 555.0 if position != "wrist" else float(subject)
    return [
        f"{subject},{position},{session},{i * 0.01:.3f},{value},0.5,0.1,0.2,0.3,{i},{w}"
        for i, w in enumerate(workouts)
    ]


def write_csv(data_root, *, interleave: bool = True):
    lines = [HEADER]
    wrist = rows(1, "wrist", 1, ["ArmCurl"] * 100)
    pocket = rows(1, "pocket", 1, ["ArmCurl"] * 100)
    # the positions interleaved: only the wrist rows form the recording
    lines += [x for pair in zip(wrist, pocket) for x in pair] if interleave else wrist + pocket
    lines += rows(1, "wrist", 2, ["Null"] * 30 + ["StairClimber"] * 50)
    lines += rows(10, "wrist", 1, ["Walking"] * 120)
    lines += rows(10, "calf", 1, ["Walking"] * 200)
    k = lines.index("1,wrist,1,0.020,1.0,0.5,0.1,0.2,0.3,2,ArmCurl")
    lines[k] = lines[k].replace(",2,Arm", ",,Arm")  # an empty C_1 cell (wrist row i=2)
    folder = data_root / "recgym"
    folder.mkdir()
    path = folder / "RecGym.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recgym_windows_and_labels(data_root):
    write_csv(data_root)
    w = harbench.load_windows("recgym", use_cache=False)
    assert w.channels == ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z", "capacitance")
    assert w.rate_hz == 20.0
    assert w.X.shape == (4, 80, 7)  # 100 -> 1, 80 -> 1, 120 -> 2 windows
    assert sorted(set(w.subject.tolist())) == [1, 10]
    classes = list(w.classes)
    assert classes.index("Null") == 5 and classes.index("StairClimber") == 10
    assert w.y.tolist() == [1, 10, 11, 11]  # ArmCurl, StairClimber (50 of 80), Walking x2
    assert not np.any(w.X == 555.0)  # no pocket / calf rows
    np.testing.assert_allclose(w.X[0, :, 6], np.arange(80))  # the empty C_1 cell interpolated
    assert check_written(data_root, "recgym")["windows"] > 0  # the plugin author's kit



def test_recgym_accepts_stairsclimber_spelling_in_a_subfolder(data_root):
    path = write_csv(data_root, interleave=False)
    (path.parent / "RecGym").mkdir()
    moved = path.rename(path.parent / "RecGym" / "RecGym.csv")
    moved.write_text(moved.read_text().replace("StairClimber", "StairsClimber"))
    w = harbench.load_windows("recgym", use_cache=False)
    assert w.y.tolist() == [1, 10, 11, 11]


def test_recgym_bad_cells_name_file_and_line(data_root):
    path = write_csv(data_root, interleave=False)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",0.5,", ",oops,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"RecGym\.csv, line 4: non-numeric cell 'oops'"):
        harbench.load_windows("recgym", use_cache=False)
    lines[3] = "1,wrist,1,0.1,0.2"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"RecGym\.csv, line 4: expected 11 columns, found 5"):
        harbench.load_windows("recgym", use_cache=False)
    lines[3] = lines[4].replace("ArmCurl", "Curling")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"RecGym\.csv, line 4: unknown workout 'Curling'"):
        harbench.load_windows("recgym", use_cache=False)


def test_recgym_missing_column_is_named(data_root):
    path = write_csv(data_root)
    path.write_text(path.read_text().replace("C_1,", "C_2,", 1))
    with pytest.raises(HarbenchError, match=r"RecGym\.csv, line 1: header lacks columns \['C_1'\]"):
        harbench.load_windows("recgym", use_cache=False)


def test_recgym_protocol_gives_nine_folds_over_ten_subjects():
    subject = np.repeat(np.arange(1, 11), 2)
    zeros = np.zeros(len(subject), dtype=np.int64)
    w = Windows(np.zeros((len(subject), 80, 7), np.float32), zeros, subject, (), (), 20.0)
    folds = make_folds(w, plugins.get("datasets", "recgym").protocol)
    tested = [sorted(set(subject[f.test].tolist())) for f in folds]
    assert tested == [[1, 2], [3], [4], [5], [6], [7], [8], [9], [10]]


def test_recgym_subject_subset(data_root):
    write_csv(data_root)
    recordings = plugins.get("datasets", "recgym").load(data_root / "recgym", subjects=[10])
    assert [(r.subject, len(r.labels)) for r in recordings] == [(10, 120)]
