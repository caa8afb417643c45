"""The loaders on real published files: partial copies kept in shared/data/real beside the clone.

MotionSense (subjects 1-3, all 15 trials), HAPT (users 1-5, with the full labels.txt that names
all 61 experiments) and DSADS (all subjects and activities, segments s01-s02). Skipped, with the
reason, where that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harbench import HarbenchError, plugins
from harbench.data.harmonise import Harmonisation, apply
from harbench.data.windows import make_windows

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
pytestmark = pytest.mark.skipif(
    not (REAL / "motionsense").is_dir(),
    reason=f"the real raw files are not in {REAL} (CI puts shared/ beside the clone)",
)
AT_REST = ("sitting", "standing", "lying")


def rest_norms(name: str, subjects: list[int]) -> np.ndarray:
    """Norm [g] of the harmonised acceleration of every 2 s window at rest."""
    plugin = plugins.get("datasets", name)
    recordings, channels, classes, rate = apply(
        plugin, plugin.load(REAL / name, subjects=subjects), Harmonisation("acc_gyro")
    )
    w = make_windows(recordings, window=100, step=50, classes=classes, channels=channels,
                     rate_hz=rate)
    rest = np.isin(w.y, [classes.index(c) for c in AT_REST])
    assert rest.sum() > 100, f"{name}: too few windows at rest ({rest.sum()})"
    return np.linalg.norm(w.X[rest][:, :, :3], axis=2)


@pytest.mark.parametrize(("name", "subjects"), [("motionsense", [1, 2, 3]),
                                                 ("hapt", [1, 2, 3, 4, 5])])
def test_harmonised_acceleration_at_rest_is_one_g(name, subjects):
    norms = rest_norms(name, subjects)
    assert 0.9 < float(np.median(norms)) < 1.1


def test_motionsense_body_acceleration_alone_would_not_be_one_g():
    """The check above can fail: userAcceleration alone (gravity removed) is near 0 g at rest."""
    plugin = plugins.get("datasets", "motionsense")
    sit = [r for r in plugin.load(REAL / "motionsense", subjects=[1]) if r.name.startswith("sit")]
    body = [plugin.channels.index(c) for c in plugin.channels if c.sensor == "acc_body"]
    assert np.median(np.linalg.norm(sit[0].signals[:, body], axis=1)) < 0.1


def test_motionsense_subset_loads_and_full_load_names_missing_subjects():
    plugin = plugins.get("datasets", "motionsense")
    recordings = plugin.load(REAL / "motionsense", subjects=[1, 2, 3])
    assert len(recordings) == 45 and {r.subject for r in recordings} == {1, 2, 3}
    assert len(plugin.files(REAL / "motionsense", subjects=[2])) == 15
    missing = ", ".join(str(s) for s in range(4, 25))
    with pytest.raises(HarbenchError, match=rf"missing 315 of 360 files, for subject\(s\) "
                       rf"{missing}: A_DeviceMotion_data/dws_1/sub_4\.csv"):
        plugin.load(REAL / "motionsense")


def test_hapt_subset_loads_and_full_load_names_missing_subjects():
    plugin = plugins.get("datasets", "hapt")
    recordings = plugin.load(REAL / "hapt", subjects=[1, 2, 3, 4, 5])
    assert [r.name for r in recordings][:3] == ["exp01_user01", "exp02_user01", "exp03_user02"]
    assert len(recordings) == 10 and (recordings[0].labels >= 0).sum() > 10000
    assert len(plugin.files(REAL / "hapt", subjects=[3])) == 5  # labels.txt + 2 experiments
    assert len(plugin.files(REAL / "hapt")) == 1 + 2 * 61
    missing = ", ".join(str(s) for s in range(6, 31))
    with pytest.raises(HarbenchError, match=rf"missing 102 of 123 files, for subject\(s\) "
                       rf"{missing}: HAPT Data Set/RawData/acc_exp11_user06\.txt"):
        plugin.load(REAL / "hapt")


def test_dsads_subset_loads_and_full_load_names_missing_subjects(tmp_path):
    plugin = plugins.get("datasets", "dsads")
    assert len(plugin.load(REAL / "dsads", subjects=[2, 7])) == 2 * 19 * 2
    assert len(plugin.load(REAL / "dsads")) == 8 * 19 * 2
    copy = tmp_path / "dsads" / "data"  # the same tree without persons 4 and 6
    for activity in sorted((REAL / "dsads" / "data").iterdir()):
        for person in sorted(activity.iterdir()):
            if person.name not in ("p4", "p6"):
                (copy / activity.name).mkdir(parents=True, exist_ok=True)
                (copy / activity.name / person.name).symlink_to(person.resolve())
    with pytest.raises(HarbenchError, match=r"missing 38 of 266 files, for subject\(s\) 4, 6: "
                       r"data/a01/p4/s01\.txt"):
        plugin.load(tmp_path / "dsads")
    assert len(plugin.load(tmp_path / "dsads", subjects=[1, 8])) == 2 * 19 * 2
