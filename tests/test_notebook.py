"""examples/quickstart.ipynb runs from top to bottom (nbclient), so it never rots."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def test_the_quickstart_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("HARBENCH_CACHE", str(tmp_path / "cache"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "\n".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                        for o in cell.get("outputs", []))
    assert "2 ok, 0 failed" in outputs
    assert "max |reloaded - saved| logit: 0.0" in outputs
    table = next(o for o in notebook.cells[9].outputs if "data" in o)["data"]["text/plain"]
    assert "config.training.epochs" in table and "lora" in table
