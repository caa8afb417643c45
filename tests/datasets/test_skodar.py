"""Skoda (right arm) loader on a tiny right_classall_clean.mat in the published layout."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import savemat

import harbench
from harbench import HarbenchError, plugins
from tests.datasets.subset import check_written

SENSOR_IDS = (1, 2, 14, 16, 18, 21, 22, 24, 27, 29)


def stream(codes: list[int]) -> np.ndarray:
    """[N, 71]: label, then per sensor s: id, calibrated x/y/z (100 s + 1..3), raw x/y/z (9999)."""
    matrix = np.zeros((len(codes), 71))
    matrix[:, 0] = codes
    for s, sensor_id in enumerate(SENSOR_IDS):
        block = 1 + 7 * s
        matrix[:, block] = sensor_id
        matrix[:, block + 1 : block + 4] = [100 * s + 1, 100 * s + 2, 100 * s + 3]
        matrix[:, block + 4 : block + 7] = 9999.0
    return matrix


def write_mat(data_root, matrix: np.ndarray, *, folder: str = "SkodaMiniCP_2015_08"):
    target = data_root / "skodar" / folder
    target.mkdir(parents=True, exist_ok=True)
    path = target / "right_classall_clean.mat"
    savemat(path, {"right_classall_clean": matrix})
    return path


def test_skodar_windows_channels_and_labels(data_root):
    # 150 null (32), 550 "open hood" (49), 500 "check steering wheel" (57) at 98 Hz
    write_mat(data_root, stream([32] * 150 + [49] * 550 + [57] * 500))
    w = harbench.load_windows("skodar", use_cache=False)
    assert w.rate_hz == 33.0 and w.X.shape == (5, 132, 30)  # 1200 -> 405 samples at 33 Hz
    assert w.channels[:3] == ("right_arm_s01_acc_x", "right_arm_s01_acc_y", "right_arm_s01_acc_z")
    assert w.channels[-1] == "right_arm_s10_acc_z"
    assert set(w.subject.tolist()) == {1}
    hood, wheel = w.classes.index("open_hood"), w.classes.index("check_steering_wheel")
    assert (hood, wheel) == (1, 9)
    assert w.y.tolist() == [hood] * 3 + [wheel] * 2  # the null class is dropped
    expected = [100 * s + a for s in range(10) for a in (1, 2, 3)]  # calibrated only, no ids
    np.testing.assert_allclose(w.X[1, 60], expected, rtol=1e-3)
    assert check_written(data_root, "skodar")["windows"] > 0  # the plugin author's kit



def test_skodar_unknown_code_names_file_variable_and_row(data_root):
    codes = [48] * 300
    codes[16] = 40
    write_mat(data_root, stream(codes), folder="")
    with pytest.raises(
        HarbenchError,
        match=r"right_classall_clean\.mat, variable 'right_classall_clean', row 17: unknown "
        r"label code 40\.0",
    ):
        harbench.load_windows("skodar", use_cache=False)


def test_skodar_wrong_width_names_file_and_shape(data_root):
    write_mat(data_root, stream([48] * 300)[:, :70])
    with pytest.raises(HarbenchError, match=r"expected a \[rows, 71\] matrix, got shape \(300, 70"):
        harbench.load_windows("skodar", use_cache=False)


def test_skodar_only_segmented_file_is_explained(data_root):
    target = data_root / "skodar" / "SkodaMiniCP_2015_08"
    target.mkdir(parents=True)
    savemat(target / "dataset_cp_2007_12.mat", {"dataset_right": np.zeros((1, 30))})
    plugin = plugins.get("datasets", "skodar")
    assert not plugin.is_present(data_root / "skodar")
    with pytest.raises(HarbenchError, match="segmented Skoda variant") as info:
        plugin.load(data_root / "skodar")
    assert "right_classall_clean.mat" in str(info.value)
