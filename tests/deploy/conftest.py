"""A small stored demo shared by the deployment tests (artefacts, MLflow export, static site):
a LoRA and a LoRA-Edge run with every artefact kept."""

from __future__ import annotations

import pytest

from harbench import coordinator

DEMO = """
name: demo
description: LoRA and LoRA-Edge on the synthetic dataset, every artefact kept
defaults:
  training: {epochs: 2, batch_size: 32, patience: 2}
  artifacts: {adapter: true, merged: true, onnx: true}
matrix:
  datasets: [synthetic]
  models: [{convnet1d: {width: 8, depth: 2}}]
  methods: [{lora: {r: 2}}, lora_edge]
  seeds: [0]
  folds: [0]
"""


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """The path of a store holding the demo suite's two runs."""
    folder = tmp_path_factory.mktemp("demo")
    (folder / "demo.yaml").write_text(DEMO)
    db = folder / "results" / "harbench.duckdb"
    summary = coordinator.run_suite(folder / "demo.yaml", db=db)
    assert summary.ok == 2, summary.failures
    return db
