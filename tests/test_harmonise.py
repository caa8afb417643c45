"""Harmonisation: channel selection, unit conversion, resampling, shared labels, refusals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harbench import plugins
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.harmonise import (
    SHARED_CLASSES,
    STANDARD_GRAVITY,
    Harmonisation,
    apply,
    plan,
)
from harbench.data.windows import make_windows

SHARED = {name: i for i, name in enumerate(SHARED_CLASSES)}


class Phone(DatasetPlugin):
    """Pocket phone (acc in m/s^2, gyro in deg/s) plus a wrist band (acc in mg, no gyro)."""

    name = "phone"
    channels = (
        Channel("wrist_ax", "acc", "wrist", "mg"),
        Channel("wrist_ay", "acc", "wrist", "mg"),
        Channel("wrist_az", "acc", "wrist", "mg"),
        Channel("pocket_ax", "acc", "pocket", "m/s^2"),
        Channel("pocket_ay", "acc", "pocket", "m/s^2"),
        Channel("pocket_az", "acc", "pocket", "m/s^2"),
        Channel("pocket_gx", "gyro", "pocket", "deg/s"),
        Channel("pocket_gy", "gyro", "pocket", "deg/s"),
        Channel("pocket_gz", "gyro", "pocket", "deg/s"),
        Channel("pocket_temp", "temperature", "pocket", "C"),
    )
    rate_hz = 100.0
    subjects = (1, 2)
    classes = ("Walking", "Jogging", "Upstairs", "Sitting", "Vacuuming")


class AccOnly(DatasetPlugin):
    name = "acc_only"
    channels = tuple(Channel(f"a{a}", "acc", "chest", "g") for a in "xyz")
    rate_hz = 50.0
    classes = ("walk", "lie")


class Counts(DatasetPlugin):
    name = "counts"
    channels = tuple(Channel(f"a{a}", "acc", "hip", "counts") for a in "xyz")
    rate_hz = 30.0
    classes = ("walking",)


def phone_recording(subject: int = 1, length: int = 1000) -> Recording:
    signals = np.zeros((length, len(Phone.channels)), dtype=np.float32)
    signals[:, 0:3] = [1000.0, -500.0, 250.0]  # mg
    signals[:, 3:6] = [STANDARD_GRAVITY, -STANDARD_GRAVITY / 2, 0.0]  # m/s^2
    signals[:, 6:9] = [180.0, -90.0, 45.0]  # deg/s
    signals[:, 9] = 36.6
    labels = np.repeat(np.arange(5, dtype=np.int64), length // 5)
    labels[:10] = -1
    return Recording(subject, signals, labels, f"p{subject}")


def test_units_are_converted_exactly():
    spec = Harmonisation("acc_gyro", rate_hz=100.0)
    recs, channels, classes, rate = apply(Phone(), [phone_recording()], spec)

    assert channels == ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
    assert classes == SHARED_CLASSES and rate == 100.0
    x = recs[0].signals
    assert x.dtype == np.float32 and x.shape == (1000, 6)
    np.testing.assert_allclose(x[:, :3], np.tile([1.0, -0.5, 0.0], (1000, 1)), rtol=1e-6)
    np.testing.assert_allclose(
        x[:, 3:], np.tile([math.pi, -math.pi / 2, math.pi / 4], (1000, 1)), rtol=1e-6
    )


def test_milli_g_at_the_chosen_position():
    recs, channels, _, _ = apply(
        Phone(), [phone_recording()], Harmonisation("acc", rate_hz=100.0, position="wrist")
    )
    assert channels == ("acc_x", "acc_y", "acc_z")
    np.testing.assert_allclose(recs[0].signals, np.tile([1.0, -0.5, 0.25], (1000, 1)), rtol=1e-6)


def test_default_position_is_the_first_carrying_every_sensor():
    assert plan(Phone(), Harmonisation("acc")).position == "wrist"
    assert plan(Phone(), Harmonisation("acc_gyro")).position == "pocket"
    assert plan(Phone(), Harmonisation("acc", position=("ankle", "pocket"))).columns == (3, 4, 5)


@pytest.mark.parametrize("to_hz", [50.0, 30.0, 20.0, 128.0])
def test_resampling_length_and_labels(to_hz):
    recs, _, _, rate = apply(Phone(), [phone_recording(length=1000)], Harmonisation("acc", to_hz))
    expected = math.ceil(1000 * to_hz / 100.0)
    assert rate == to_hz
    assert recs[0].signals.shape == (expected, 3)
    assert recs[0].labels.shape == (expected,)
    assert recs[0].signals.dtype == np.float32 and recs[0].labels.dtype == np.int64


def test_labels_map_onto_the_shared_vocabulary():
    recs, _, _, _ = apply(Phone(), [phone_recording()], Harmonisation("acc", rate_hz=100.0))
    labels = recs[0].labels
    # Walking, Jogging, Upstairs, Sitting, Vacuuming -> walking, running, upstairs, sitting, -1
    expected = [SHARED["walking"], SHARED["running"], SHARED["upstairs"], SHARED["sitting"], -1]
    assert labels[:10].tolist() == [-1] * 10
    assert [int(labels[200 * k + 100]) for k in range(5)] == expected


def test_explicit_label_map_overrides_synonyms():
    spec = Harmonisation(
        "acc", rate_hz=100.0, label_map={"phone": {"Vacuuming": "other", "Jogging": None}}
    )
    p = plan(Phone(), spec)
    assert p.labels == {
        "Walking": "walking",
        "Upstairs": "upstairs",
        "Sitting": "sitting",
        "Vacuuming": "other",
    }
    assert p.lut == (SHARED["walking"], -1, SHARED["upstairs"], SHARED["sitting"], SHARED["other"])


def test_unmapped_classes_are_dropped_by_windowing():
    spec = Harmonisation("acc", rate_hz=50.0)
    recs, channels, classes, rate = apply(Phone(), [phone_recording(1), phone_recording(2)], spec)
    windows = make_windows(
        recs, window=50, step=50, classes=classes, channels=channels, rate_hz=rate
    )
    assert set(windows.y.tolist()) == {
        SHARED["walking"],
        SHARED["running"],
        SHARED["upstairs"],
        SHARED["sitting"],
    }
    assert windows.X.shape[1:] == (50, 3)


def test_recordings_without_mapped_labels_are_removed():
    rec = phone_recording()
    rec.labels[:] = 4  # Vacuuming only
    recs, *_ = apply(Phone(), [rec, phone_recording(2)], Harmonisation("acc"))
    assert [r.subject for r in recs] == [2]


def test_dataset_without_the_sensor_is_refused():
    with pytest.raises(HarbenchError) as err:
        plan(AccOnly(), Harmonisation("acc_gyro"))
    message = str(err.value)
    assert "'acc_only'" in message and "'gyro'" in message and "acc@chest" in message


def test_position_without_every_sensor_is_refused():
    with pytest.raises(HarbenchError, match=r"'phone'.*'wrist'.*acc@wrist, acc@pocket"):
        plan(Phone(), Harmonisation("acc_gyro", position="wrist"))


def test_unknown_unit_is_refused():
    with pytest.raises(HarbenchError, match=r"'counts'.*'ax'.*'counts'.*known units"):
        plan(Counts(), Harmonisation("acc"))


def test_no_mappable_class_is_refused():
    class Odd(AccOnly):
        name = "odd"
        classes = ("vacuuming", "ironing")

    with pytest.raises(HarbenchError, match=r"'odd'.*vacuuming, ironing.*label_map"):
        plan(Odd(), Harmonisation("acc"))


def test_label_map_errors_name_the_key():
    with pytest.raises(HarbenchError, match=r"'Jogin'.*Did you mean 'Jogging'"):
        plan(Phone(), Harmonisation("acc", label_map={"phone": {"Jogin": "running"}}))
    with pytest.raises(HarbenchError, match=r"'Jogging'.*'sprinting'.*shared vocabulary"):
        plan(Phone(), Harmonisation("acc", label_map={"phone": {"Jogging": "sprinting"}}))


def test_plugin_shared_labels_replace_synonyms():
    class Declared(AccOnly):
        name = "declared"
        shared_labels = {"walk": "walking"}

    assert plan(Declared(), Harmonisation("acc")).labels == {"walk": "walking"}


def test_recording_with_the_wrong_width_is_refused():
    rec = phone_recording()
    rec.signals = rec.signals[:, :4]
    with pytest.raises(HarbenchError, match=r"'phone', recording p1.*expected \[T, 10\]"):
        apply(Phone(), [rec], Harmonisation("acc"))


def test_coerce_from_yaml_like_values():
    assert Harmonisation.coerce("acc_gyro") == Harmonisation("acc_gyro")
    spec = Harmonisation.coerce({"channels": "acc", "rate_hz": 20, "position": "wrist"})
    assert spec.rate_hz == 20.0 and spec.position == ("wrist",)
    with pytest.raises(HarbenchError, match="Did you mean 'rate_hz'"):
        Harmonisation.coerce({"rate": 20})
    with pytest.raises(HarbenchError, match="'magnetometer'"):
        Harmonisation("magnetometer")
    with pytest.raises(HarbenchError, match="rate_hz"):
        Harmonisation("acc", rate_hz=0)


def test_plan_key_changes_with_what_shapes_the_data():
    keys = {
        str(plan(Phone(), spec).key())
        for spec in (
            Harmonisation("acc"),
            Harmonisation("acc", rate_hz=30.0),
            Harmonisation("acc", position="pocket"),
            Harmonisation("acc", label_map={"phone": {"Vacuuming": "other"}}),
        )
    }
    assert len(keys) == 4
    # a map for another dataset does not touch this one
    same = Harmonisation("acc", label_map={"elsewhere": {"x": "walking"}})
    assert plan(Phone(), same).key() == plan(Phone(), Harmonisation("acc")).key()


def test_synthetic_dataset_upsampled_and_mapped():
    plugin = plugins.get("datasets", "synthetic")
    recordings = plugin.load(Path("."))
    names = plugin.classes
    spec = Harmonisation(
        "acc", rate_hz=50.0, label_map={"synthetic": {names[0]: "lying", names[3]: "running"}}
    )
    recs, channels, classes, rate = apply(plugin, recordings, spec)

    assert rate == 50.0 and channels == ("acc_x", "acc_y", "acc_z")
    assert len(recs) == len(recordings)
    for before, after in zip(recordings, recs):
        assert after.subject == before.subject and after.name == before.name
        assert after.signals.shape == (2 * len(before.labels), 3)
        assert set(np.unique(after.labels).tolist()) == {-1, SHARED["lying"], SHARED["running"]}
        # the low-frequency class keeps its signal after polyphase upsampling (2x)
        slow = before.labels == 0
        np.testing.assert_allclose(
            after.signals[::2][slow][20:-20].std(), before.signals[slow][20:-20].std(), rtol=0.1
        )


class SplitPhone(DatasetPlugin):
    """A phone that stores body acceleration [m/s^2] and gravity [g] apart (like MotionSense)."""

    name = "split_phone"
    channels = (
        *(Channel(f"grav_{a}", "gravity", "pocket", "g") for a in "xyz"),
        *(Channel(f"gyro_{a}", "gyro", "pocket", "rad/s") for a in "xyz"),
        *(Channel(f"user_{a}", "acc_body", "pocket", "m/s^2") for a in "xyz"),
        *(Channel(f"wrist_{a}", "acc_body", "wrist", "g") for a in "xyz"),  # no gravity there
    )
    rate_hz = 50.0
    classes = ("sitting", "walking")


def test_body_acceleration_and_gravity_are_summed_into_total_acceleration():
    p = plan(SplitPhone(), Harmonisation("acc_gyro"))
    assert p.position == "pocket" and p.columns == (6, 7, 8, 3, 4, 5)
    assert p.plus == (0, 1, 2, -1, -1, -1)
    signals = np.zeros((200, 12), dtype=np.float32)
    signals[:, 0:3] = [0.0, 0.6, 0.8]  # gravity, g
    signals[:, 3:6] = [0.5, 0.0, -0.5]  # rad/s
    signals[:, 6:9] = [STANDARD_GRAVITY / 10, 0.0, 0.0]  # body, m/s^2 = 0.1 g
    rec = Recording(1, signals, np.zeros(200, dtype=np.int64), "r")
    (out,), channels, _, _ = apply(SplitPhone(), [rec], Harmonisation("acc_gyro"))
    assert channels == ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
    np.testing.assert_allclose(out.signals[:, :3], np.tile([0.1, 0.6, 0.8], (200, 1)), atol=1e-5)
    np.testing.assert_allclose(out.signals[:, 3:], np.tile([0.5, 0.0, -0.5], (200, 1)), atol=1e-6)


def test_body_acceleration_without_gravity_is_not_taken_as_acceleration():
    with pytest.raises(HarbenchError, match=r"no acc at position 'wrist'"):
        plan(SplitPhone(), Harmonisation("acc", position="wrist"))


def test_total_acceleration_is_preferred_over_body_acceleration():
    uci = plugins.get("datasets", "uci")
    p = plan(uci, Harmonisation("acc_gyro"))
    names = [uci.channels[i].name for i in p.columns]
    assert names == ["total_acc_x", "total_acc_y", "total_acc_z",
                     "body_gyro_x", "body_gyro_y", "body_gyro_z"]
    assert p.plus == (-1,) * 6
    motionsense = plugins.get("datasets", "motionsense")
    p = plan(motionsense, Harmonisation("acc"))
    assert [motionsense.channels[i].name for i in p.columns] == [
        "userAcceleration_x", "userAcceleration_y", "userAcceleration_z"]
    assert [motionsense.channels[i].name for i in p.plus] == ["gravity_x", "gravity_y", "gravity_z"]
