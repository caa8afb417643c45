"""`harbench new-plugin`: the skeleton installs and its own tests (harbench.testing) pass."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from harbench.contracts import HarbenchError
from harbench.scaffold import package_name
from tests.helpers import REPO, harbench_env, run_cli


def test_new_plugin_installs_and_passes_its_own_tests(tmp_path):
    dest = tmp_path / "harbench-demo"
    made = run_cli(["new-plugin", "demo", "-o", str(dest)], env=harbench_env(), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (dest / "harbench_demo" / "__init__.py").is_file()
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(dest)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = harbench_env(site)
    listed = run_cli(["plugins", "--format", "json"], env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "demo_last_n" in listed.stdout  # the example's last_n, renamed
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=dest, env=env, capture_output=True, text=True, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "4 passed" in tests.stdout


def test_new_plugin_refuses_a_bad_name_and_a_used_folder(tmp_path):
    with pytest.raises(HarbenchError, match="plugin name"):
        package_name("9lives")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("")
    made = run_cli(["new-plugin", "demo", "-o", str(tmp_path / "taken")], env=harbench_env(),
                   cwd=REPO)
    assert made.returncode == 2
    assert "not empty" in made.stderr


def test_the_skeleton_is_the_example_plugin_renamed(tmp_path):
    """One copy: every file of harbench/plugin_example is rendered, and nothing else."""
    from harbench.scaffold import FILES, example, write_plugin

    EXAMPLE = example()
    assert EXAMPLE == REPO / "harbench" / "plugin_example"  # the checkout's (editable install)
    built = ("__pycache__", "build", "dist")  # what pip install leaves beside the sources
    shipped = {str(p.relative_to(EXAMPLE)) for p in EXAMPLE.rglob("*")
               if p.is_file() and not set(p.relative_to(EXAMPLE).parts) & set(built)
               and ".egg-info" not in str(p)}
    assert shipped == set(FILES)
    written = write_plugin("demo", tmp_path / "demo")
    for rel, path in zip(FILES, written):
        source = (EXAMPLE / rel).read_text()
        text = path.read_text()
        assert "harbench_example" not in text and "example_net" not in text
        assert len(text.splitlines()) == len(source.splitlines())


RENDER_FROM_THE_WHEEL = """
import sys
from pathlib import Path

import harbench
from harbench.plugins import build_registry
from harbench.scaffold import write_plugin
from harbench.testing import check_model

unpacked, dest = Path(sys.argv[1]), Path(sys.argv[2])
assert Path(harbench.__file__).is_relative_to(unpacked), harbench.__file__
write_plugin("demo", dest)
sys.path.insert(0, str(dest))
import harbench_demo
from harbench_demo.model import DemoNet

registry = build_registry((harbench_demo,))
assert "demo_csv" in registry.names("datasets"), registry.names("datasets")
assert "demo_net" in registry.names("models")
assert "demo_last_n" in registry.names("methods")
assert check_model(DemoNet())["params"] > 0
print("rendered from", harbench.__file__)
"""


def test_new_plugin_renders_from_an_installed_wheel(tmp_path):
    """The wheel ships the example (package data), and the skeleton renders from it alone."""
    from harbench.scaffold import EXAMPLE_FOLDER, FILES

    source = tmp_path / "source"  # a clean copy: the build leaves build/ and *.egg-info behind
    junk = shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info")
    for part in ("harbench", "plugins"):
        shutil.copytree(REPO / part, source / part, ignore=junk)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    # what `pip install harbench/plugin_example` leaves in place must not ship
    leftover = source / "harbench" / EXAMPLE_FOLDER / "build" / "lib" / "harbench_example"
    leftover.mkdir(parents=True)
    (leftover / "dataset.py").write_text("")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("harbench-*.whl")
    prefix = f"harbench/{EXAMPLE_FOLDER}/"
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n[len(prefix):] for n in archive.namelist() if n.startswith(prefix)}
        assert shipped == set(FILES)
        archive.extractall(tmp_path / "unpacked")
    # the unpacked wheel comes first on the path and the checkout is not the working folder,
    # so harbench (and its example) are the wheel's
    rendered = subprocess.run(
        [sys.executable, "-c", RENDER_FROM_THE_WHEEL, str(tmp_path / "unpacked"),
         str(tmp_path / "harbench-demo")],
        env=harbench_env(tmp_path / "unpacked"), cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    assert str(tmp_path / "unpacked") in rendered.stdout
    written = {str(p.relative_to(tmp_path / "harbench-demo"))
               for p in (tmp_path / "harbench-demo").rglob("*") if p.is_file()}
    assert {f.replace("harbench_example", "harbench_demo") for f in FILES} <= written
