"""The example third-party package: pip-installed, found by its entry point, used by a suite."""

from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb
import numpy as np

from tests.helpers import REPO, harbench_env, run_cli

SUITE = """
name: example
defaults:
  training: {epochs: 2, batch_size: 16, patience: 2}
matrix:
  datasets: [example_csv]
  models: [{tinierhar: {hidden: 8}}]
  methods: [{last_n: {n: [1, 3]}}]
  folds: [0, 1]
"""


def write_csv(path):
    rng = np.random.default_rng(0)
    lines = ["subject,recording,label,acc_x,acc_y,acc_z"]
    for subject in (1, 2, 3, 4):
        for recording in (1, 2):
            for label, freq in (("rest", 0.0), ("walk", 2.0), ("run", 4.0)):
                for t in range(80):
                    x = np.sin(2 * np.pi * freq * t / 20) + 0.1 * rng.standard_normal()
                    lines.append(f"{subject},{recording},{label},{x:.4f},{x / 2:.4f},0.1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_example_plugin_installs_registers_and_runs_in_a_suite(tmp_path):
    example = tmp_path / "example"  # a copy: building in place would leave build/ in harbench/
    shutil.copytree(REPO / "harbench" / "plugin_example", example,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    site = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(example),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    data = tmp_path / "data"
    write_csv(data / "example_csv" / "recordings.csv")
    env = harbench_env(site, HARBENCH_DATA=str(data))

    listed = run_cli(["plugins"], env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "harbench-plugin-example" in listed.stdout and "last_n" in listed.stdout

    suite = tmp_path / "example.yaml"
    suite.write_text(SUITE)
    db = tmp_path / "ex.duckdb"
    done = run_cli(["run", str(suite), "--db", str(db)], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute(
        "SELECT r.method_label, m.value FROM runs r JOIN metrics m USING (run_id) "
        "WHERE m.name = 'trainable_params' AND r.status = 'ok' ORDER BY m.value"
    ).fetchall()
    con.close()
    assert len(stored) == 4
    assert {label for label, _ in stored} == {"last_n(n=1)", "last_n(n=3)"}
    by_label = {label: value for label, value in stored}
    assert by_label["last_n(n=1)"] < by_label["last_n(n=3)"]
