"""``harbench new-plugin NAME``: write a plugin package skeleton that passes harbench.testing.

The package registers one dataset (a CSV file), one backbone and one adaptation method through
the ``harbench`` entry-point group, and ships tests that call :mod:`harbench.testing`.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from harbench.contracts import HarbenchError

_PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "harbench-{name}"
version = "0.1.0"
description = "A harbench plugin: the {name} dataset, backbone and method"
requires-python = ">=3.10"
dependencies = ["harbench"]

[project.optional-dependencies]
test = ["pytest>=7"]

# This table is what makes harbench find the plugin.
[project.entry-points.harbench]
{name} = "{package}"

[tool.setuptools]
packages = ["{package}"]
'''

_INIT = '''\
"""harbench plugin {name}: registers a dataset, a backbone and an adaptation method.

Only light modules are imported here, so that `harbench --help` stays fast: torch is imported
when a model is built or adapted.
"""

from harbench.hookspecs import hookimpl

from {package}.dataset import {Name}Csv
from {package}.method import {Name}HeadAndBias
from {package}.model import {Name}Net


@hookimpl
def harbench_register_datasets(register):
    register({Name}Csv())


@hookimpl
def harbench_register_models(register):
    register({Name}Net())


@hookimpl
def harbench_register_methods(register):
    register({Name}HeadAndBias())
'''

_DATASET = '''\
"""The {name}_csv dataset: one CSV file, header subject,recording,label,acc_x,acc_y,acc_z."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording

FILE = "recordings.csv"
HEADER = ["subject", "recording", "label", "acc_x", "acc_y", "acc_z"]


class {Name}Csv(DatasetPlugin):
    name = "{name}_csv"
    title = "{Name} CSV dataset"
    channels = tuple(Channel(f"acc_{{a}}", "acc", "wrist", "g") for a in "xyz")
    rate_hz = 20.0
    subjects = (1, 2, 3, 4)
    classes = ("rest", "walk", "run")
    label_codes = ("rest", "walk", "run")
    window_s = 2.0
    step_s = 1.0
    protocol = {{"name": "loso"}}
    licence = "CC0-1.0"
    loader_version = "1"  # bump when load() changes what it returns

    def is_present(self, root: Path) -> bool:
        return (root / FILE).is_file()

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        return [root / FILE]

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        import numpy as np

        wanted = None if subjects is None else {{int(s) for s in subjects}}
        path = root / FILE
        if not path.is_file():
            raise HarbenchError(f"{{path}} is missing. {{self.fetch_instructions(root)}}")
        rows: dict[tuple[int, int], list[tuple[int, list[float]]]] = {{}}
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != HEADER:
                raise HarbenchError(f"{{path}}, line 1: expected header {{','.join(HEADER)}}")
            for line, row in enumerate(reader, start=2):
                try:
                    subject, recording = int(row[0]), int(row[1])
                    label = self.label_codes.index(row[2])
                    values = [float(v) for v in row[3:6]]
                except (ValueError, IndexError):
                    message = f"{{path}}, line {{line}}: malformed row {{row!r}}"
                    raise HarbenchError(message) from None
                if wanted is None or subject in wanted:
                    rows.setdefault((subject, recording), []).append((label, values))
        return [
            Recording(
                subject=subject,
                signals=np.array([v for _, v in samples], dtype=np.float32),
                labels=np.array([lab for lab, _ in samples], dtype=np.int64),
                name=f"s{{subject}}r{{recording}}",
            )
            for (subject, recording), samples in sorted(rows.items())
        ]

    def fetch_instructions(self, root: Path) -> str:
        return f"Write {{root / FILE}} with the header {{','.join(HEADER)}}"
'''

_MODEL = '''\
"""The {name}_net backbone: two 1-D convolutions and a linear head (network in network.py)."""

from __future__ import annotations

from typing import Any

from harbench.contracts import ModelPlugin
from harbench.settings import Param


class {Name}Net(ModelPlugin):
    name = "{name}_net"
    description = "two Conv1d-BN-ReLU blocks, global average pooling, a linear head"
    version = "1"  # bump when what build() computes changes
    params = {{"width": Param(16, "channels of each convolution", min=1)}}
    defaults = {{"width": 16}}
    head = "head"
    targets = {{"conv": ("conv1", "conv2"), "linear": ()}}

    def build(self, *, channels: int, window: int, classes: int, **params: Any):
        from {package}.network import Net

        return Net(channels, classes, width=params.get("width", 16))
'''

_NETWORK = '''\
"""The network of {name}_net: float32 [B, T, C] -> logits [B, K]."""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, channels: int, classes: int, width: int = 16):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, width, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm1d(width)
        self.conv2 = nn.Conv1d(width, width, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm1d(width)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)
        h = torch.relu(self.bn1(self.conv1(h)))
        h = torch.relu(self.bn2(self.conv2(h)))
        return self.head(h.mean(dim=2))
'''

_METHOD = '''\
"""The {name}_head_and_bias method: train the classifier head and every bias, freeze the rest."""

from __future__ import annotations

from typing import Any

from harbench.contracts import HarbenchError, MethodPlugin, ModelInfo


class {Name}HeadAndBias(MethodPlugin):
    name = "{name}_head_and_bias"
    description = "train the head and the biases; everything else stays as pre-trained"
    version = "1"  # bump when what adapt() computes changes
    defaults: dict[str, Any] = {{}}
    bn_policy = "update"

    def adapt(self, model, info: ModelInfo, **params: Any):
        trainable = 0
        for name, p in model.named_parameters():
            train = name.startswith(info.head + ".") or name.endswith(".bias")
            p.requires_grad_(train)
            trainable += p.numel() if train else 0
        if trainable == 0:
            raise HarbenchError(f"{{self.name}}: {{info.name}} has no head or bias to train")
        return model
'''

_TESTS = '''\
"""The plugin's own tests: harbench.testing's checks, on data written in the dataset's format."""

from __future__ import annotations

import csv
import math

from harbench import plugins
from harbench.testing import check_dataset, check_method, check_model

from {package}.dataset import HEADER, {Name}Csv
from {package}.method import {Name}HeadAndBias
from {package}.model import {Name}Net


def write_recordings(root):
    """Four subjects, two recordings each, 20 Hz: rest, walk and run in 6 s blocks."""
    with (root / "recordings.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for subject in (1, 2, 3, 4):
            for recording in (1, 2):
                for i in range(360):
                    label = ("rest", "walk", "run")[i // 120]
                    amp = {{"rest": 0.02, "walk": 0.5, "run": 1.5}}[label]
                    t = i / 20
                    writer.writerow([subject, recording, label, round(amp * math.sin(7 * t), 4),
                                     round(amp * math.cos(5 * t), 4), 1.0])


def test_dataset(tmp_path):
    write_recordings(tmp_path)
    seen = check_dataset({Name}Csv(), tmp_path)
    assert seen["subjects"] == [1, 2, 3, 4]
    assert check_dataset({Name}Csv(), tmp_path, subjects=[2])["subjects"] == [2]


def test_model():
    assert check_model({Name}Net())["params"] > 0


def test_method():
    seen = check_method({Name}HeadAndBias(), model="{name}_net")
    assert 0 < seen["trainable"] < seen["params"]


def test_registered_through_entry_points():
    registry = plugins.registry()
    assert "{name}_csv" in registry.names("datasets")
    assert "{name}_net" in registry.names("models")
    assert "{name}_head_and_bias" in registry.names("methods")
'''

_README = '''\
# harbench-{name}

A harbench plugin: the `{name}_csv` dataset, the `{name}_net` backbone and the
`{name}_head_and_bias` adaptation method.

```bash
pip install -e ".[test]"
pytest
harbench plugins            # lists {name}
```

Edit the modules under `{package}/`; the tests call `harbench.testing`'s checks.
'''


def package_name(name: str) -> str:
    """``my-plugin`` -> ``harbench_my_plugin``; refuses names that are not identifiers."""
    slug = re.sub(r"[-\s]+", "_", name.strip().lower())
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug) or keyword.iskeyword(slug):
        raise HarbenchError(
            f"plugin name {name!r}: use letters, digits, '-' or '_', starting with a letter"
        )
    return slug


def write_plugin(name: str, dest: Path) -> list[Path]:
    """Write the skeleton for plugin ``name`` into ``dest`` (which must not exist or be empty)."""
    slug = package_name(name)
    package = f"harbench_{slug}"
    if dest.exists() and any(dest.iterdir()):
        raise HarbenchError(f"{dest} exists and is not empty: choose another folder (-o)")
    fields = {"name": slug, "Name": slug.title().replace("_", ""), "package": package}
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{package}/__init__.py": _INIT,
        f"{package}/dataset.py": _DATASET,
        f"{package}/model.py": _MODEL,
        f"{package}/network.py": _NETWORK,
        f"{package}/method.py": _METHOD,
        "tests/test_plugin.py": _TESTS,
    }
    written = []
    for rel, template in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**fields))
        written.append(path)
    return written
