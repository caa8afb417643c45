"""RealWorld 2016 loader on tiny zips in the published layout (proband{n}/data/acc_*_csv.zip)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import harbench
from harbench import HarbenchError
from tests.datasets.subset import subset_windows

ACTIVITIES = (
    "climbingdown", "climbingup", "jumping", "lying", "running", "sitting", "standing", "walking",
)
POSITIONS = ("chest", "forearm", "head", "shin", "thigh", "upperarm", "waist")
T0 = 1435993200000  # ms


def position_csv(rows: int, position: int) -> str:
    """Header and rows every 20 ms, each position starting `position` ms later.

    attr_x is the time in seconds since T0 (so aligned rows agree across positions), attr_y the
    position's index, attr_z -1. Rows 3 and 4 are swapped and row 5 repeated, as the sorting and
    de-duplication must cope.
    """
    times = [T0 + position + 20 * i for i in range(rows)]
    lines = [
        f"{i + 1},{t},{(t - T0) / 1000:.6f},{float(position)},-1.0" for i, t in enumerate(times)
    ]
    lines[3], lines[4] = lines[4], lines[3]
    lines.insert(6, lines[5])
    return "id,attr_time,attr_x,attr_y,attr_z\n" + "\n".join(lines) + "\n"


def zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def session_members(activity: str, rows: int, tag: str = "", skip: str = "") -> dict[str, str]:
    return {
        f"acc_{activity}{tag}_{pos}.csv": position_csv(rows, i)
        for i, pos in enumerate(POSITIONS)
        if pos != skip
    }


def write_proband(data_root, number: int, zips: dict[str, bytes]):
    """All 8 activity zips; those not given hold a session too short for a window."""
    folder = data_root / "rw" / f"proband{number}" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for activity in ACTIVITIES:
        data = zips.get(activity) or zip_bytes(session_members(activity, 10))
        (folder / f"acc_{activity}_csv.zip").write_bytes(data)
    return folder


def written_windows(data_root):
    """Windows of the probands the test wrote (a subject subset)."""
    numbers = sorted(int(p.name[len("proband"):]) for p in (data_root / "rw").iterdir())
    return subset_windows(data_root, "rw", numbers)


def test_rw_windows_sessions_alignment_and_labels(data_root):
    write_proband(data_root, 1, {"walking": zip_bytes(session_members("walking", 450))})
    nested = zip_bytes({
        "acc_climbingup_1_csv.zip": zip_bytes(session_members("climbingup", 250)),
        "acc_climbingup_2_csv.zip": zip_bytes(session_members("climbingup", 350, "_2")),
        # session 3 lacks the forearm file: skipped
        "acc_climbingup_3_csv.zip": zip_bytes(session_members("climbingup", 900, "_3", "forearm")),
    })
    odd_names = zip_bytes(session_members("sitting", 300, "_2"))
    write_proband(data_root, 2, {"climbingup": nested, "sitting": odd_names})
    w = written_windows(data_root)
    assert w.rate_hz == 50.0 and w.X.shape == (7, 200, 21)
    assert w.channels[:3] == ("chest_acc_x", "chest_acc_y", "chest_acc_z")
    assert w.channels[-1] == "waist_acc_z"
    assert sorted(set(w.subject.tolist())) == [1, 2]
    assert w.classes.index("walking") == 7 and w.classes.index("climbingup") == 1
    # 450 rows: common span of 449 grid samples -> starts 0, 100, 200
    assert w.y[w.subject == 1].tolist() == [7, 7, 7]
    # the 6 ms start offset costs one grid sample: climbingup sessions 1 (250 rows: 249
    # samples, 1 window) and 2 (350 rows: 2 windows), sitting (300 rows: 299 samples, 1 window)
    assert sorted(w.y[w.subject == 2].tolist()) == [1, 1, 1, 5]
    first = w.X[0]
    x_columns = first[:, 0::3]  # attr_x of the 7 positions: the time, so equal when aligned
    np.testing.assert_allclose(x_columns, np.repeat(x_columns[:, :1], 7, axis=1), atol=1e-6)
    np.testing.assert_allclose(np.diff(first[:, 0]), 0.02, atol=1e-5)  # a 50 Hz grid
    np.testing.assert_allclose(first[0, 1::3], np.arange(7))  # positions in published order


def test_rw_bad_cell_names_zip_member_and_line(data_root):
    members = session_members("walking", 300)
    lines = members["acc_walking_chest.csv"].splitlines()
    lines[4] = lines[4].replace("-1.0", "n/a")
    members["acc_walking_chest.csv"] = "\n".join(lines) + "\n"
    write_proband(data_root, 3, {"walking": zip_bytes(members)})
    with pytest.raises(
        HarbenchError,
        match=r"acc_walking_csv\.zip!acc_walking_chest\.csv, line 5: non-numeric cell 'n/a'",
    ):
        written_windows(data_root)


def test_rw_unsafe_member_and_missing_zip(data_root):
    members = session_members("lying", 300)
    members["../acc_lying_head.csv"] = members.pop("acc_lying_head.csv")
    folder = write_proband(data_root, 4, {"lying": zip_bytes(members)})
    with pytest.raises(HarbenchError, match=r"unsafe member name '\.\./acc_lying_head\.csv'"):
        written_windows(data_root)
    (folder / "acc_lying_csv.zip").unlink()
    with pytest.raises(HarbenchError, match=r"missing 1 of 8 files, for subject\(s\) 4: "
                       r"proband4/data/acc_lying_csv\.zip"):
        written_windows(data_root)


def test_rw_missing_probands_are_named(data_root):
    for number in range(1, 16):
        if number not in (2, 6):
            write_proband(data_root, number, {})
    with pytest.raises(HarbenchError, match=r"missing 16 of 120 files, for subject\(s\) 2, 6: "):
        harbench.load_windows("rw", use_cache=False)
    plugin = harbench.plugins.get("datasets", "rw")
    assert len(plugin.files(data_root / "rw", subjects=[1, 3])) == 16
