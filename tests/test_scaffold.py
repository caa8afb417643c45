"""`harbench new-plugin`: the skeleton installs and its own tests (harbench.testing) pass."""

from __future__ import annotations

import subprocess
import sys

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
    """One copy: every file of examples/harbench-plugin-example is rendered, and nothing else."""
    from harbench.scaffold import EXAMPLE, FILES, write_plugin

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
