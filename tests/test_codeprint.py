"""The code fingerprint: comments, docstrings and moves do not count; any edit of a body does."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from harbench import codeprint

MODULE = '''
"""A module."""
from __future__ import annotations

import numpy as np

__all__ = ["fit"]

RATE = 0.1


def fit(x, steps=3):
    """Fit."""
    total = 0.0
    for _ in range(steps):
        total += RATE * x  # one step
    return total


class Model:
    """A model."""

    def forward(self, x):
        return np.tanh(x)
'''


def items(text: str) -> list[str]:
    return codeprint.source_items(textwrap.dedent(text))


def test_comments_docstrings_imports_and_formatting_do_not_count():
    edited = (
        MODULE.replace("# one step", "# one optimiser step, commented differently")
        .replace('"""Fit."""', '"""Fit, documented at length.\n\n    More words."""')
        .replace('"""A module."""', "")
        .replace("import numpy as np", "import numpy as np\nimport os  # unused")
        .replace("total = 0.0", "total = (\n        0.0\n    )")
        .replace('__all__ = ["fit"]', '__all__ = ["fit", "Model"]')
    )
    assert items(edited) == items(MODULE)


@pytest.mark.parametrize(
    "old, new",
    [
        ("total += RATE * x", "total += 2 * RATE * x"),  # a body
        ("steps=3", "steps=4"),  # a default
        ("RATE = 0.1", "RATE = 0.2"),  # a constant
        ("np.tanh(x)", "np.tanh(x + 0)"),  # a method
        ("def fit(", "def fit_all("),  # a rename
    ],
)
def test_any_edit_of_code_changes_it(old, new):
    assert old in MODULE
    assert codeprint.combine(items(MODULE.replace(old, new))) != codeprint.combine(items(MODULE))


def test_moving_a_function_to_another_module_does_not_change_the_multiset():
    head, _, tail = MODULE.partition("class Model:")
    a, b = head, "import numpy as np\n\n\nclass Model:" + tail
    assert codeprint.combine(items(a) + items(b)) == codeprint.combine(items(MODULE))
    assert codeprint.combine(items(a)) != codeprint.combine(items(MODULE))


def test_the_core_covers_the_result_path_and_leaves_out_what_cannot_change_a_number():
    core = codeprint.core_modules()
    for name in ("harbench.train", "harbench.runner", "harbench.rundata", "harbench.metrics",
                 "harbench.data.windows", "harbench.data.harmonise", "harbench.data.protocols",
                 "harbench.pretrain", "harbench.measure.counting"):
        assert name in core
    assert not core & {"harbench.store", "harbench.plugins", "harbench.suite", "harbench.spec",
                        "harbench.codeprint", "harbench.settings"}


def _spec(protocol: str) -> dict:
    return {"dataset": "synthetic", "model": "tinierhar", "method": "full",
            "protocol": {"name": protocol}}


def test_a_run_covers_the_modules_of_the_plugins_it_uses(monkeypatch):
    """Editing the subject_adaptation plugin changes the fingerprint of its runs, not of LOSO's."""
    adaptation = _spec("subject_adaptation")
    loso = _spec("loso")
    before = codeprint.for_spec(adaptation), codeprint.for_spec(loso)
    assert before[0] != before[1]
    target = codeprint.module_file("harbench_protocols.subject_adaptation")
    original = codeprint.read_source

    def edited(path):
        text = original(path)
        if path == target:
            text = text.replace("fraction = float(", "fraction = 0.01 + float(")
        return text

    monkeypatch.setattr(codeprint, "read_source", edited)
    codeprint.clear()
    try:
        assert codeprint.for_spec(adaptation) != before[0]
        assert codeprint.for_spec(loso) == before[1]
    finally:
        monkeypatch.undo()
        codeprint.clear()
    assert codeprint.for_spec(adaptation) == before[0]


def test_the_fingerprint_is_the_same_in_a_fresh_process():
    code = ("from harbench import codeprint; "
            "print(codeprint.for_spec({'dataset': 'synthetic', 'model': 'tinierhar', "
            "'method': 'full', 'protocol': {'name': 'loso'}}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == codeprint.for_spec(_spec("loso"))


def test_the_fingerprint_does_not_depend_on_the_python_version():
    """Every harbench and built-in plugin module gives the same multiset on each Python found
    (3.10-3.13 where installed: 3.12.1 adds empty f-string parts; 3.12 adds empty fields)."""
    import glob
    import shutil
    from pathlib import Path

    found = [p for p in (shutil.which(f"python3.{m}") for m in (10, 11, 12, 13)) if p]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found += sorted(glob.glob(str(pyenv / "3.1[0-3].*" / "bin" / "python")))
    repo = Path(__file__).resolve().parents[1]
    code = (
        "import glob, importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('cp', {str(repo / 'harbench' / 'codeprint.py')!r})\n"  # noqa: E501
        "cp = importlib.util.module_from_spec(spec); spec.loader.exec_module(cp)\n"
        "items = []\n"
        "for f in sorted(sys.argv[1:]): items += cp.source_items(open(f).read(), f)\n"
        "print(cp.combine(items))\n"
    )
    files = glob.glob(str(repo / "harbench" / "**" / "*.py"), recursive=True)
    files += glob.glob(str(repo / "plugins" / "**" / "*.py"), recursive=True)
    prints = {}
    for python in found:
        done = subprocess.run([python, "-c", code, *files], capture_output=True, text=True)
        if done.returncode == 0:  # a shim without that version installed fails: not counted
            prints[python] = done.stdout.strip()
    if len(prints) < 2:
        pytest.skip("fewer than two working Python versions")
    assert len(set(prints.values())) == 1, prints


def test_code_moved_to_another_plugin_package_stays_counted(tmp_path, monkeypatch):
    """A plugin module's imports are followed into every package that provides harbench plugins
    (so issue 23's moves between plugin packages keep the moved code fingerprinted), and an edit
    there changes the run's fingerprint."""
    from tests.helpers import write_plugin_dist

    site = write_plugin_dist(
        tmp_path / "site",
        "harbench-two-packages",
        {
            "plug_a": "from plug_b import helper\n\ndef adapt(x):\n    return helper(x)\n",
            "plug_b": "import torch\n\ndef helper(x):\n    return 2 * x\n",
        },
        {"a": "plug_a", "b": "plug_b"},
    )
    monkeypatch.syspath_prepend(str(site))
    codeprint.clear()
    try:
        assert {"plug_a", "plug_b"} <= codeprint.plugin_packages()
        modules = codeprint.plugin_modules("plug_a")
        assert modules == {"plug_a", "plug_b"}  # torch is not a plugin package: not followed
        before = codeprint.fingerprint(modules)
        helper = codeprint.module_file("plug_b")
        original = codeprint.read_source
        monkeypatch.setattr(codeprint, "read_source", lambda p: original(p).replace(
            "2 * x", "3 * x") if p == helper else original(p))
        codeprint.clear()
        assert codeprint.fingerprint(codeprint.plugin_modules("plug_a")) != before
    finally:
        monkeypatch.undo()
        codeprint.clear()
