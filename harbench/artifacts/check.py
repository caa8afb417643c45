"""Reload a run's saved models and compare their logits with the ones the run saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harbench.artifacts import rebuild


def reload_differences(folder: str | Path, config: dict[str, Any]) -> dict[str, float]:
    """Max |reloaded - saved| test logit difference of each saved model in ``folder``:
    ``merged`` (merged.safetensors), ``adapter`` (peft adapter on the rebuilt backbone) and
    ``onnx`` (onnxruntime); the run's test windows are rebuilt from its stored ``config``."""
    folder = Path(folder)
    X, _ = rebuild.test_data(config)
    saved = rebuild.stored_logits(folder)
    out: dict[str, float] = {}
    if (folder / rebuild.MERGED).is_file():
        out["merged"] = _diff(rebuild.logits(rebuild.load_merged(folder), X), saved["merged"])
    if (folder / rebuild.ADAPTER).is_dir():
        out["adapter"] = _diff(rebuild.logits(rebuild.load_adapted(folder), X), saved["adapted"])
    if (folder / rebuild.ONNX).is_file():
        from harbench.artifacts.onnx_export import onnx_logits

        out["onnx"] = float(np.abs(onnx_logits(folder / rebuild.ONNX, X)
                                   - saved["merged"].numpy()).max())
    return out


def _diff(a, b) -> float:
    return float((a - b).abs().max()) if a.shape == b.shape else float("inf")
