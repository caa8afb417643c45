"""HHAR loader on tiny CSVs in the published layout (Activity recognition exp/Phones_*.csv ...)."""

from __future__ import annotations

import numpy as np
import pytest

import harbench
from harbench import HarbenchError, plugins
from harbench.data.harmonise import Harmonisation, apply, plan
from tests.datasets.subset import subset_windows

HEADER = "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt"
T0_NS = 1424696633908000000
GRAVITY = 9.80665
ACC = (0.5, -0.25, GRAVITY)  # m/s^2
GYRO = (0.1, 0.2, 0.3)  # rad/s


def rows(user, model, device, gt, start_s, seconds, rate_hz, values, offset_ms=0.0):
    """(creation time ns, line without index) of a constant stretch sampled at ``rate_hz``."""
    out = []
    for i in range(round(seconds * rate_hz)):
        t_ns = T0_NS + round((start_s + i / rate_hz) * 1e9 + offset_ms * 1e6)
        x, y, z = values
        arrival_ms = t_ns // 1_000_000 + 3
        out.append((t_ns, f"{arrival_ms},{t_ns},{x},{y},{z},{user},{model},{device},{gt}"))
    return out


def phone_streams(values, offset_ms=0.0):
    """User a: nexus4 (200 Hz) walks 6 s, null 3 s, sits 5 s; user b: s3mini (100 Hz) climbs
    stairs 5 s, then walks 5 s, pauses 2 s (no samples) and walks 5 s more."""
    return [
        *rows("a", "nexus4", "nexus4_1", "walk", 0, 6, 200, values, offset_ms),
        *rows("a", "nexus4", "nexus4_1", "null", 6, 3, 200, values, offset_ms),
        *rows("a", "nexus4", "nexus4_1", "sit", 9, 5, 200, values, offset_ms),
        *rows("b", "s3mini", "s3mini_1", "stairsup", 0, 5, 100, values, offset_ms),
        *rows("b", "s3mini", "s3mini_1", "walk", 5, 5, 100, values, offset_ms),
        *rows("b", "s3mini", "s3mini_1", "walk", 12, 5, 100, values, offset_ms),
    ]


def csv_text(stream) -> str:
    """The published layout: header, then rows in file order (not sorted by time: the files
    interleave devices), each prefixed by its 0-based index."""
    body = sorted(stream, key=lambda r: (r[0] % 7, r[0]))  # a fixed shuffle
    body.insert(5, body[4])  # a repeated sample
    return HEADER + "\n" + "".join(f"{i},{line}\n" for i, (_, line) in enumerate(body))


def write_hhar(data_root):
    folder = data_root / "hhar" / "Activity recognition exp"
    folder.mkdir(parents=True)
    (folder / "Phones_accelerometer.csv").write_text(csv_text(phone_streams(ACC)))
    (folder / "Phones_gyroscope.csv").write_text(csv_text(phone_streams(GYRO, offset_ms=1.0)))
    watch_acc = rows("a", "lgwatch", "lgwatch_1", "stand", 0, 5, 200, ACC)
    watch_gyro = rows("a", "lgwatch", "lgwatch_1", "stand", 0, 5, 200, GYRO, 2.0)
    (folder / "Watch_accelerometer.csv").write_text(csv_text(watch_acc))
    (folder / "Watch_gyroscope.csv").write_text(csv_text(watch_gyro))
    return folder


def test_hhar_phones_sessions_channels_rate_and_labels(data_root):
    write_hhar(data_root)
    w = harbench.load_windows("hhar", use_cache=False)
    assert w.rate_hz == 50.0 and w.X.shape == (6, 200, 6)  # 4 s windows at 50 Hz
    assert w.channels == ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
    assert w.classes == ("biking", "sitting", "standing", "walking", "stairs_up", "stairs_down")
    walking, sitting, stairs_up = 3, 1, 4
    # a: walk 6 s -> 300 samples -> 2 windows; the null stretch is dropped; sit 5 s -> 1
    assert sorted(w.y[w.subject == 1].tolist()) == sorted([walking, walking, sitting])
    # b: stairs 5 s -> 1; walk is cut in two sessions by the 2 s pause, 1 window each
    assert sorted(w.y[w.subject == 2].tolist()) == sorted([stairs_up, walking, walking])
    np.testing.assert_allclose(w.X[..., :3], np.broadcast_to(ACC, (6, 200, 3)), atol=1e-4)
    np.testing.assert_allclose(w.X[..., 3:], np.broadcast_to(GYRO, (6, 200, 3)), atol=1e-5)
    recordings = plugins.get("datasets", "hhar").load(data_root / "hhar")
    assert len(recordings) == 5 and len({r.name for r in recordings}) == 5
    assert {r.name.rsplit("_", 1)[0] for r in recordings} == {
        "a_nexus4_1_walk", "a_nexus4_1_sit", "b_s3mini_1_stairsup", "b_s3mini_1_walk"}


def test_hhar_watches_and_subject_subset(data_root):
    write_hhar(data_root)
    w = harbench.load_windows("hhar_watch", use_cache=False)
    assert w.X.shape == (1, 200, 6) and w.y.tolist() == [2] and w.subject.tolist() == [1]
    # the watches were worn in the phones' sessions: LODO must not hold one out, train on the other
    assert plugins.get("datasets", "hhar_watch").recordings_from == "hhar-2015"
    assert plugins.get("datasets", "hhar").recordings_from == "hhar-2015"
    only_b = subset_windows(data_root, "hhar", [2])
    assert len(only_b) == 3 and set(only_b.subject.tolist()) == {2}
    with pytest.raises(HarbenchError, match=r"no rows of subject\(s\) \[9\] \(users i\)"):
        plugins.get("datasets", "hhar").load(data_root / "hhar", subjects=[1, 9])


def test_hhar_harmonised_to_total_acceleration_in_g(data_root):
    write_hhar(data_root)
    plugin = plugins.get("datasets", "hhar")
    spec = Harmonisation("acc_gyro")
    p = plan(plugin, spec)
    assert p.labels == {
        "biking": "cycling", "sitting": "sitting", "standing": "standing",
        "walking": "walking", "stairs_up": "upstairs", "stairs_down": "downstairs",
    }
    recordings, channels, _, rate = apply(plugin, plugin.load(data_root / "hhar"), spec)
    assert rate == 50.0 and channels[:3] == ("acc_x", "acc_y", "acc_z")
    middle = recordings[0].signals[50:-50]
    np.testing.assert_allclose(middle[:, 2], 1.0, atol=1e-5)  # gravity in g
    np.testing.assert_allclose(middle[:, 3:], np.broadcast_to(GYRO, middle[:, 3:].shape), atol=1e-5)


def test_hhar_bad_rows_name_file_and_line(data_root):
    folder = write_hhar(data_root)
    path = folder / "Phones_accelerometer.csv"
    lines = path.read_text().splitlines()
    good = lines[7]
    lines[7] = good.rsplit(",", 1)[0] + ",run"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"Phones_accelerometer\.csv, line 8: unknown gt 'run'"):
        harbench.load_windows("hhar", use_cache=False)
    fields = good.split(",")
    fields[4] = "abc"
    lines[7] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"accelerometer\.csv, line 8: non-numeric y 'abc'"):
        harbench.load_windows("hhar", use_cache=False)
    lines[7] = ",".join(good.split(",")[:9])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"line 8: expected 10 fields, found 9"):
        harbench.load_windows("hhar", use_cache=False)
    path.write_text(lines[0].replace("gt", "label") + "\n")
    with pytest.raises(HarbenchError, match=r"accelerometer\.csv, line 1: expected the header"):
        harbench.load_windows("hhar", use_cache=False)
    (folder / "Phones_gyroscope.csv").unlink()
    with pytest.raises(HarbenchError, match=r"missing file .*Phones_gyroscope\.csv"):
        plugins.get("datasets", "hhar").load(data_root / "hhar")
