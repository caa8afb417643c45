"""A small stored demo shared by the deployment tests (MLflow export, static site)."""

from __future__ import annotations

import pytest

from harbench import coordinator

DEMO = """
name: demo
description: two methods on the synthetic dataset, two folds
defaults:
  training: {epochs: 2, batch_size: 32, patience: 2}
  artifacts: {merged: true}
matrix:
  datasets: [synthetic]
  models: [{convnet1d: {width: 8, depth: 2}}]
  methods: [full, {lora: {r: 2}}]
  seeds: [0]
  folds: [0, 1]
"""


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """The path of a store holding the demo suite's four runs (merged models kept)."""
    folder = tmp_path_factory.mktemp("demo")
    (folder / "demo.yaml").write_text(DEMO)
    db = folder / "results" / "harbench.duckdb"
    summary = coordinator.run_suite(folder / "demo.yaml", db=db)
    assert summary.ok == 4, summary.failures
    return db
