"""Rebuild a saved run's models from its artefact folder: the merged model, or the peft model
(backbone + adapter), and read back the logits the run stored.

Everything needed is in the folder: ``model.json`` names the backbone plugin, its parameters
and the input shape; ``merged.safetensors`` / ``backbone.safetensors`` hold the weights;
``adapter/`` is peft's own adapter folder. Weights are read with safetensors (no pickle), so
loading never executes what the files contain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harbench.contracts import HarbenchError

META = "model.json"
MERGED = "merged.safetensors"
BACKBONE = "backbone.safetensors"
ADAPTER = "adapter"
LOGITS = "logits.safetensors"
ONNX = "model.onnx"


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The rebuild description of a saved run (``model.json``)."""
    path = Path(folder) / META
    try:
        meta = json.loads(path.read_text())
    except OSError as exc:
        raise HarbenchError(f"{path}: cannot read the model description ({exc.strerror})") from None
    except ValueError as exc:
        raise HarbenchError(f"{path}: not valid JSON ({exc})") from None
    for key in ("model", "model_params", "channels", "window", "classes"):
        if key not in meta:
            raise HarbenchError(f"{path}: missing key {key!r}")
    return meta


def build_backbone(meta: dict[str, Any]) -> nn.Module:
    """A fresh backbone of the run's model plugin, with the run's parameters (random weights)."""
    from harbench import blocks, pretrain

    model = blocks.build_model(meta["model"], channels=int(meta["channels"]),
                               window=int(meta["window"]), classes=int(meta["classes"]),
                               **meta["model_params"])
    pretrain.strip_pretraining(model)
    return model


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise HarbenchError(f"{path}: not saved for this run")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise HarbenchError(f"{path}: not a readable safetensors file ({exc})") from None


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise HarbenchError(
            f"{path}: the weights do not fit the rebuilt backbone (missing "
            f"{sorted(result.missing_keys)[:4]}, unexpected {sorted(result.unexpected_keys)[:4]})"
        )


def load_merged(folder: str | Path) -> nn.Module:
    """The run's merged/fused model, rebuilt from ``model.json`` and ``merged.safetensors``."""
    folder = Path(folder)
    model = build_backbone(read_meta(folder))
    _load_into(model, _weights(folder / MERGED), folder / MERGED)
    return model.eval()


def load_adapted(folder: str | Path) -> nn.Module:
    """The run's adapted model: the rebuilt backbone (``backbone.safetensors``: its frozen and
    head weights as trained) with peft's adapter loaded by ``PeftModel.from_pretrained``."""
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / ADAPTER / "adapter_config.json").is_file():
        raise HarbenchError(f"{folder / ADAPTER}: no peft adapter saved for this run")
    backbone = build_backbone(read_meta(folder))
    _load_into(backbone, _weights(folder / BACKBONE), folder / BACKBONE)
    return PeftModel.from_pretrained(backbone, str(folder / ADAPTER)).eval()


def stored_logits(folder: str | Path) -> dict[str, torch.Tensor]:
    """The test logits the run saved: ``adapted`` (the trained model) and ``merged``."""
    return _weights(Path(folder) / LOGITS)


def logits(model: nn.Module, X: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """float32 logits of ``model`` (eval mode, on its own device) for every window of ``X``
    [N, T, C], returned on the CPU."""
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    with torch.no_grad():
        outs = [model(X[i : i + batch_size].to(device)).float().cpu()
                for i in range(0, len(X), batch_size)]
    return torch.cat(outs) if outs else torch.zeros(0)


def test_data(config: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised test windows and labels of a stored run, rebuilt from its config (the
    dataset's files must be present; the fold and normalisation are computed as the run did)."""
    from harbench.rundata import prepare
    from harbench.spec import RunSpec

    data = prepare(RunSpec(**config))
    X = torch.from_numpy(np.ascontiguousarray(data.normalised(data.test)))
    return X, torch.from_numpy(np.asarray(data.windows.y[data.test]))
