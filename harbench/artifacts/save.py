"""Keep a finished run's models when its suite asks for it (see ``request``).

Called once by the runner after merging. Each artefact is checked before it is kept: the
folder is reloaded the way a user would (``rebuild``) and must give the run's own logits. An
artefact that cannot be made or does not reload is left out and the reason is written in the
run's details; the run stays ``ok`` (its numbers do not depend on it). The folder is written
under a temporary name and renamed into place, so a half-written folder is never listed.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from harbench.artifacts import rebuild
from harbench.artifacts.request import Request, current

RELOAD_TOLERANCE = 1e-5  # max |reloaded - run| logit difference for a kept model


def _cpu_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).cpu().eval()


def _tensors(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A state dict safetensors can write: CPU, contiguous, no shared storage."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()
            if isinstance(v, torch.Tensor)}


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float((a - b).abs().max()) if a.numel() else 0.0


def describe(spec: Any, data: Any, window: int, channels: int) -> dict[str, Any]:
    """``model.json``: everything needed to rebuild the model and feed it raw windows."""
    from harbench import __version__

    return {
        "run_id": spec.run_id,
        "model": spec.model,
        "model_params": spec.model_params,
        "channels": channels,
        "window": window,
        "classes": len(data.windows.classes),
        "class_names": [str(c) for c in data.windows.classes],
        "input": {"name": "windows", "dtype": "float32", "shape": ["batch", window, channels],
                  "layout": "[batch, time, channels]",
                  "normalise": "x = (raw - mean) / std per channel before the model"},
        "normalisation": {"mean": [float(v) for v in data.norm.mean],
                          "std": [float(v) for v in data.norm.std]},
        "rate_hz": float(data.windows.rate_hz),
        "dataset": spec.dataset,
        "window_settings": spec.window,
        "method": spec.method,
        "method_params": spec.method_params,
        "versions": spec.versions,
        "harbench": __version__,
        "torch": torch.__version__,
    }


def _save_merged(folder: Path, deployed: nn.Module, X: torch.Tensor,
                 reference: torch.Tensor) -> dict[str, Any]:
    from safetensors.torch import save_file

    save_file(_tensors(deployed.state_dict()), str(folder / rebuild.MERGED))
    diff = _max_diff(rebuild.logits(rebuild.load_merged(folder), X), reference)
    if diff > RELOAD_TOLERANCE:
        (folder / rebuild.MERGED).unlink()
        raise RuntimeError(f"the reloaded merged model's logits differ by {diff:.3g}")
    return {"file": rebuild.MERGED, "reload_max_abs_diff": diff}


def _save_adapter(folder: Path, model: nn.Module, X: torch.Tensor,
                  reference: torch.Tensor) -> dict[str, Any]:
    from peft import PeftModel
    from safetensors.torch import save_file

    if not isinstance(model, PeftModel):
        raise ValueError("the method is not a peft method: no peft adapter (the merged model "
                         "is the run's deployable form)")
    adapted = _cpu_copy(model)
    adapted.save_pretrained(str(folder / rebuild.ADAPTER))
    backbone = _cpu_copy(model).unload()  # the backbone as trained, without the adapter layers
    save_file(_tensors(backbone.state_dict()), str(folder / rebuild.BACKBONE))
    diff = _max_diff(rebuild.logits(rebuild.load_adapted(folder), X), reference)
    if diff > RELOAD_TOLERANCE:
        shutil.rmtree(folder / rebuild.ADAPTER)
        (folder / rebuild.BACKBONE).unlink()
        raise RuntimeError(f"the reloaded adapter's logits differ by {diff:.3g}")
    return {"folder": rebuild.ADAPTER, "backbone": rebuild.BACKBONE,
            "format": "peft (PeftModel.from_pretrained on the rebuilt backbone)",
            "reload_max_abs_diff": diff}


def _save_onnx(folder: Path, deployed: nn.Module, X: torch.Tensor, window: int,
               channels: int) -> tuple[dict[str, Any], dict[str, float]]:
    import importlib.util

    from harbench.artifacts import onnx_export

    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"{', '.join(missing)} not installed: pip install 'harbench[onnx]'")
    exported = onnx_export.export(_cpu_copy(deployed), X, folder / rebuild.ONNX)
    timing = onnx_export.latency(exported.path, window, channels)
    info = {**exported.describe(), "latency": {**timing, "threads": 1, "batch": 1,
                                               "runtime": _ort_version()}}
    metrics = {"onnx_latency_ms": timing["median_ms"], "onnx_latency_p95_ms": timing["p95_ms"],
               "onnx_bytes": float(exported.path.stat().st_size),
               "onnx_max_abs_diff": exported.max_abs_diff}
    return info, metrics


def _ort_version() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"


def save_for_run(spec: Any, model: nn.Module, deployed: nn.Module, data: Any,
                 X_test: torch.Tensor, request: Request | None = None
                 ) -> tuple[dict[str, float], dict[str, Any]]:
    """Write the requested artefacts of a finished run; returns (metrics, details entry).

    Nothing is written and ({}, {}) returned when no artefacts are requested.
    """
    request = request or current()
    if request is None:
        return {}, {}
    wanted = request.settings
    window, channels = int(X_test.shape[1]), int(X_test.shape[2])
    final = request.root / spec.run_id
    partial = request.root / f".{spec.run_id}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    X = X_test.detach().cpu().float()
    # the reference logits are computed on CPU copies (where the reloads run and deployments
    # usually do); a run on another device also keeps its own device's logits
    adapted_logits = rebuild.logits(_cpu_copy(model), X)
    merged_logits = rebuild.logits(_cpu_copy(deployed), X)
    logits = {"adapted": adapted_logits, "merged": merged_logits}
    if any(p.device.type != "cpu" for p in model.parameters()):
        logits["adapted_on_run_device"] = rebuild.logits(model, X)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in logits.items()}, str(partial / rebuild.LOGITS))
    (partial / rebuild.META).write_text(json.dumps(describe(spec, data, window, channels),
                                                  indent=2, default=str))
    record: dict[str, Any] = {"folder": f"{request.root.name}/{spec.run_id}", "saved": {},
                              "not_saved": {}}
    metrics: dict[str, float] = {}
    steps = [("merged", wanted.merged, lambda: _save_merged(partial, deployed, X, merged_logits)),
             ("adapter", wanted.adapter, lambda: _save_adapter(partial, model, X, adapted_logits))]
    for name, asked, step in steps:
        if not asked:
            continue
        try:
            record["saved"][name] = step()
        except Exception as exc:  # the run's numbers stand; the reason is kept with them
            record["not_saved"][name] = f"{type(exc).__name__}: {exc}"
    if wanted.onnx:
        try:
            record["saved"]["onnx"], onnx_metrics = _save_onnx(partial, deployed, X, window,
                                                               channels)
            metrics.update(onnx_metrics)
        except Exception as exc:
            record["not_saved"]["onnx"] = f"{type(exc).__name__}: {exc}"
    record["files"] = sorted(str(p.relative_to(partial)) for p in partial.rglob("*")
                             if p.is_file())
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return metrics, {"artifacts": record}
