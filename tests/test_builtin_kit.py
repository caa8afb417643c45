"""Every built-in plugin passes the checks harbench.testing offers to plugin authors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbench import plugins
from harbench.testing import check_dataset, check_method, check_model

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
MODELS = plugins.registry().names("models")
METHODS = plugins.registry().names("methods")


@pytest.mark.parametrize("name", MODELS)
def test_builtin_model_passes_the_kit(name):
    seen = check_model(plugins.get("models", name), window=128, channels=6, classes=5)
    assert seen["params"] > 0


@pytest.mark.parametrize("name", METHODS)
def test_builtin_method_passes_the_kit(name):
    plugin = plugins.get("methods", name)
    seen = check_method(plugin)
    if not plugin.trains:  # none, adabn: no gradient step
        assert seen["trainable"] == 0 < seen["params"]
        return
    assert 0 < seen["trainable"] <= seen["params"]
    if name not in ("full",):
        assert seen["trainable"] < seen["params"], f"{name} trains everything"


def test_embedded_hapt_passes_the_kit():
    seen = check_dataset(plugins.get("datasets", "hapt_embedded"), Path("."))
    assert len(seen["subjects"]) == 30
    assert seen["classes_seen"] == list(range(12))


@pytest.mark.parametrize(
    ("name", "subjects"), [("hapt", [1, 2]), ("dsads", [1, 2]), ("motionsense", [1, 2, 3])]
)
def test_real_files_pass_the_kit(name, subjects):
    root = REAL / name
    if not root.is_dir():
        pytest.skip(f"real {name} files not found at {root} (../shared/data/real is absent)")
    seen = check_dataset(plugins.get("datasets", name), root, subjects=subjects)
    assert seen["subjects"] == subjects
