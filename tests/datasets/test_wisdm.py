"""WISDM v1.1 loader on a tiny raw file with the dirt the real one has."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError, plugins
from tests.datasets.subset import check_written

STEP_NS = 50_000_000  # 20 Hz


def records(user: int, activity: str, n: int, t0: int) -> list[str]:
    return [
        f"{user},{activity},{t0 + i * STEP_NS},{i * 0.1:.4f},{9.81:.4f},{-float(user):.4f}"
        for i in range(n)
    ]


def raw_text() -> str:
    lines = [r + ";" for r in records(33, "Jogging", 100, 49105962326000)]
    # 2 s later: a timestamp jump, so a new recording (not one of 190 samples)
    later = 49105962326000 + 101 * STEP_NS + 2 * 10**9
    lines += [r + ";" for r in records(33, "Jogging", 90, later)]
    sitting = records(7, "Sitting", 120, 1000)
    lines += [r + ";" for r in sitting[:10]]
    lines.append(sitting[10])  # no trailing ';'
    lines.append(sitting[11] + ";" + sitting[12] + ";")  # two records on one line
    lines.append("7,Sitting,1111,,1.0,2.0;")  # empty field: skipped
    lines.append(sitting[13] + ",;")  # trailing comma, all six fields valid: kept (repaired)
    lines.append("7,Sitting,2222,1.0,2.0,;")  # z missing + trailing comma: skipped
    lines.append("7,Siting,3333,1.0,2.0,3.0;")  # unknown activity: skipped
    lines += [r + ";" for r in sitting[14:]]
    lines += [r + ";" for r in records(12, "Upstairs", 80, 5000)]
    return "\n".join(lines) + "\n"


def write_raw(data_root, text: str):
    folder = data_root / "wisdm" / "WISDM_ar_v1.1"
    folder.mkdir(parents=True)
    path = folder / "WISDM_ar_v1.1_raw.txt"
    path.write_text(text)
    return path


def test_wisdm_windows_labels_and_malformed_counts(data_root):
    write_raw(data_root, raw_text())
    w = harbench.load_windows("wisdm", use_cache=False)
    assert w.channels == ("acc_x", "acc_y", "acc_z") and w.rate_hz == 20.0
    assert w.X.shape == (5, 80, 3)  # 1 + 1 (jump splits) + 2 (120 sitting) + 1
    assert sorted(set(w.subject.tolist())) == [7, 12, 33]
    classes = list(w.classes)
    assert classes.index("Upstairs") == 2
    by_subject = {s: sorted(set(w.y[w.subject == s].tolist())) for s in (7, 12, 33)}
    assert by_subject == {7: [classes.index("Sitting")], 12: [2], 33: [classes.index("Jogging")]}
    sitting = w.X[w.subject == 7]
    np.testing.assert_allclose(sitting[0, :, 0], np.arange(80) * 0.1, atol=1e-4)  # no gap
    report = plugins.get("datasets", "wisdm").last_load_report
    assert report.skipped == 3 and report.repaired == 1
    assert report.records == 100 + 90 + 120 + 80
    assert report.recordings == 4
    # lines 1-200 are valid, 201 lacks its ';', 202 holds two records, 203 has an empty field
    assert any(e.startswith("line 203:") and "empty field" in e for e in report.examples)
    assert check_written(data_root, "wisdm")["windows"] > 0  # the plugin author's kit



def test_wisdm_refuses_the_2019_release(data_root):
    folder = data_root / "wisdm" / "wisdm-dataset" / "raw" / "phone" / "accel"
    folder.mkdir(parents=True)
    (folder / "data_1600_accel_phone.txt").write_text("1600,A,252207666810782,-0.36,8.79,1.05;\n")
    with pytest.raises(HarbenchError, match=r"2019 WISDM.*not WISDM v1\.1"):
        harbench.load_windows("wisdm", use_cache=False)


def test_wisdm_refuses_actitracker_v2(data_root):
    folder = data_root / "wisdm" / "WISDM_at_v2.0"
    folder.mkdir(parents=True)
    (folder / "WISDM_at_v2.0_raw.txt").write_text("1,Walking,1,0.1,0.2,0.3;\n")
    with pytest.raises(HarbenchError, match=r"Actitracker v2\.0"):
        harbench.load_windows("wisdm", use_cache=False)


def test_wisdm_file_without_valid_records_is_named(data_root):
    path = write_raw(data_root, "user,activity,timestamp,x,y,z;\n1,Walking,,1,2,3;\n")
    with pytest.raises(HarbenchError, match=rf"{path}: no valid .* \(2 malformed\)"):
        harbench.load_windows("wisdm", use_cache=False)


def test_wisdm_subject_subset(data_root):
    write_raw(data_root, raw_text())
    plugin = plugins.get("datasets", "wisdm")
    recordings = plugin.load(data_root / "wisdm", subjects=[12, 33])
    assert sorted({r.subject for r in recordings}) == [12, 33] and len(recordings) == 3
    assert [p.name for p in plugin.files(data_root / "wisdm", subjects=[7])] == [
        "WISDM_ar_v1.1_raw.txt"]
    with pytest.raises(HarbenchError, match=r"dataset 'wisdm' has no subject\(s\) \[37\]"):
        plugin.load(data_root / "wisdm", subjects=[37])
