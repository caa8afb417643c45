"""MHEALTH loader on tiny tab-separated .log files in the published layout."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError
from tests.datasets.subset import check_written


def log_text(codes: list[int], subject: int) -> str:
    lines = []
    for i, code in enumerate(codes):
        values = [f"{subject + c / 100:.4f}" for c in range(23)]
        values[0] = f"{i * 0.01:.4f}"  # chest acc x
        lines.append("\t".join([*values, str(code)]))
    return "\n".join(lines) + "\n"


def write_tree(data_root):
    folder = data_root / "mhealth" / "MHEALTHDATASET"
    folder.mkdir(parents=True)
    codes = {1: [0] * 50 + [4] * 300, 2: [12] * 250, 3: [0] * 250}
    for s in range(1, 11):
        (folder / f"mHealth_subject{s}.log").write_text(log_text(codes.get(s, [1] * 5), s))
    return folder


def test_mhealth_windows_and_null_dropped(data_root):
    write_tree(data_root)
    w = harbench.load_windows("mhealth", use_cache=False)
    assert len(w.channels) == 23 and w.rate_hz == 50.0
    assert w.channels[3] == "chest_ecg_1" and w.channels[-1] == "right_lower_arm_mag_z"
    assert w.X.shape == (3, 200, 23)  # subject 1: 2, subject 2: 1, subject 3 (all null): 0
    assert w.subject.tolist() == [1, 1, 2]
    assert w.classes[3] == "Walking" and w.classes[11] == "Jump front & back"
    assert w.y.tolist() == [3, 3, 11]
    np.testing.assert_allclose(w.X[1, :, 0], (100 + np.arange(200)) * 0.01, atol=1e-5)
    np.testing.assert_allclose(w.X[2, 0, 22], 2.22, atol=1e-5)
    assert check_written(data_root, "mhealth")["windows"] > 0  # the plugin author's kit



def test_mhealth_bad_files_are_named(data_root):
    folder = write_tree(data_root)
    path = folder / "mHealth_subject5.log"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace("5.0300", "x", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"mHealth_subject5\.log, line 2: non-numeric cell 'x'"):
        harbench.load_windows("mhealth", use_cache=False)
    lines[1] = "\t".join(lines[0].split("\t")[:20])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"mHealth_subject5\.log, line 2: expected 24 columns"):
        harbench.load_windows("mhealth", use_cache=False)
    path.write_text(log_text([1, 13], 5))
    with pytest.raises(HarbenchError, match=r"mHealth_subject5\.log, line 2: unknown label 13"):
        harbench.load_windows("mhealth", use_cache=False)
    (folder / "mHealth_subject10.log").unlink()
    with pytest.raises(HarbenchError, match=r"missing 1 of 10 files, for subject\(s\) 10: "
                       r".*mHealth_subject10\.log"):
        harbench.load_windows("mhealth", use_cache=False)
