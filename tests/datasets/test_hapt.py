"""UCI HAPT raw loader on tiny files in the published layout (RawData/acc_expXX_userYY.txt ...)."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError, plugins


def signal_text(n: int, base: float) -> str:
    """Space-separated x y z rows; row i holds base + i/1000, base + 1, base + 2."""
    rows = (f"{base + i / 1000:.6f} {base + 1:.6f} {base + 2:.6f}" for i in range(n))
    return "\n".join(rows) + "\n"


def write_raw(data_root, experiments: dict[tuple[int, int], int], labels: str):
    raw = data_root / "hapt" / "RawData"
    raw.mkdir(parents=True, exist_ok=True)
    for (exp, user), n in experiments.items():
        (raw / f"acc_exp{exp:02d}_user{user:02d}.txt").write_text(signal_text(n, 0.5))
        (raw / f"gyro_exp{exp:02d}_user{user:02d}.txt").write_text(signal_text(n, -3.0))
    (raw / "labels.txt").write_text(labels)
    return raw


LABELS = "1 1 5 50 349\n1 1 7 350 399\n1 1 4 400 599\n2 2 12 0 299\n"


def test_hapt_windows_channels_and_labels(data_root):
    write_raw(data_root, {(1, 1): 600, (2, 2): 300}, LABELS)
    w = harbench.load_windows("hapt", use_cache=False)
    assert w.rate_hz == 50.0 and w.X.shape == (7, 200, 6)
    assert w.channels == ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
    assert sorted(set(w.subject.tolist())) == [1, 2]
    standing, sitting = w.classes.index("standing"), w.classes.index("sitting")
    assert (standing, sitting) == (4, 3) and w.classes[11] == "lie_to_stand"
    # exp01: starts 0, 100, 200, 300, 400 (the first 50 samples are unlabelled)
    assert w.y[w.subject == 1].tolist() == [standing] * 3 + [sitting] * 2
    assert w.y[w.subject == 2].tolist() == [11, 11]
    np.testing.assert_allclose(w.X[0, 0], [0.5, 1.5, 2.5, -3.0, -2.0, -1.0], atol=1e-6)


def test_hapt_label_rows_are_0_based_and_inclusive(data_root):
    write_raw(data_root, {(1, 1): 600, (2, 2): 300}, LABELS)
    recordings = plugins.get("datasets", "hapt").load(data_root / "hapt")
    labels = recordings[0].labels
    assert recordings[0].name == "exp01_user01" and len(labels) == 600
    assert labels[49] == -1 and labels[50] == 4 and labels[349] == 4 and labels[350] == 6
    assert labels[399] == 6 and labels[400] == 3 and labels[599] == 3


def test_hapt_bad_labels_line_and_missing_gyro(data_root):
    raw = write_raw(data_root, {(1, 1): 600}, "1 1 5 50 349\n1 1 7 350\n")
    with pytest.raises(HarbenchError, match=r"labels\.txt, line 2: expected 5 columns, found 4"):
        harbench.load_windows("hapt", use_cache=False)
    (raw / "labels.txt").write_text("1 1 5 50 349\n1 1 4 400 650\n")
    with pytest.raises(HarbenchError, match=r"labels\.txt, line 2: segment 400\.\.650 lies out"):
        harbench.load_windows("hapt", use_cache=False)
    (raw / "gyro_exp01_user01.txt").unlink()
    with pytest.raises(HarbenchError, match=r"missing 1 of 3 files, for subject\(s\) 1: "
                       r"RawData/gyro_exp01_user01\.txt"):
        harbench.load_windows("hapt", use_cache=False)


def test_uci_and_both_hapt_loaders_declare_the_same_recordings():
    """LODO refuses holding one out while pretraining on another: they share the 30 people."""
    names = plugins.registry().names("datasets")
    tags = {name: plugins.get("datasets", name).recordings_from for name in names}
    sharing = {name for name, tag in tags.items() if tag == "uci-hapt-2012"}
    assert sharing == {"uci", "hapt", "hapt_embedded"}
