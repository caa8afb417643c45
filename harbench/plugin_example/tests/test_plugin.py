"""The plugin's own tests: harbench.testing's checks, on data written in the dataset's format."""

from __future__ import annotations

import csv
import math

from harbench import plugins
from harbench.testing import check_dataset, check_method, check_model
from harbench_example.dataset import HEADER, ExampleCsv
from harbench_example.method import ExampleLastN
from harbench_example.model import ExampleNet


def write_recordings(root):
    """Four subjects, two recordings each, 20 Hz: rest, walk and run in 6 s blocks."""
    with (root / "recordings.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for subject in (1, 2, 3, 4):
            for recording in (1, 2):
                for i in range(360):
                    label = ("rest", "walk", "run")[i // 120]
                    amp = {"rest": 0.02, "walk": 0.5, "run": 1.5}[label]
                    t = i / 20
                    writer.writerow([subject, recording, label, round(amp * math.sin(7 * t), 4),
                                     round(amp * math.cos(5 * t), 4), 1.0])


def test_dataset(tmp_path):
    write_recordings(tmp_path)
    seen = check_dataset(ExampleCsv(), tmp_path)
    assert seen["subjects"] == [1, 2, 3, 4]
    assert check_dataset(ExampleCsv(), tmp_path, subjects=[2])["subjects"] == [2]


def test_model():
    assert check_model(ExampleNet())["params"] > 0


def test_method():
    seen = check_method(ExampleLastN(), model="example_net", n=2)
    assert 0 < seen["trainable"] < seen["params"]


def test_registered_through_entry_points():
    registry = plugins.registry()
    assert "example_csv" in registry.names("datasets")
    assert "example_net" in registry.names("models")
    assert "last_n" in registry.names("methods")
