"""The checkpoint cache: a stage's key, its folder under ``<HARBENCH_CACHE>/pretrain/<key>/``
(``weights.pt`` read with ``weights_only=True``, ``curves.json``, ``stage.json``, checksums),
and ``cached_pretrain``, which trains on a miss."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harbench.contracts import HarbenchError
from harbench.pretrain import objectives

FORMAT = 1  # bump when the stored checkpoint layout changes


def _plain(value: Any) -> Any:
    """JSON-able, canonical form of a stage value (numpy scalars/arrays, tuples, sets, paths)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def checkpoint_key(stage: dict[str, Any]) -> str:
    """A stable 20-hex-digit hash of everything that shaped a checkpoint."""
    if not isinstance(stage, dict):
        raise HarbenchError(f"a pretraining stage must be a mapping, got {type(stage).__name__}")
    text = json.dumps({"format": FORMAT, **_plain(stage)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class SourceData:
    """Labelled pretraining windows: X [N, T, C], y [N] into ``classes``, subject ids [N]."""

    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    classes: tuple[str, ...]


@dataclass
class Pretrained:
    state: dict[str, torch.Tensor]
    curves: list[dict[str, float]]
    key: str
    folder: Path
    cached: bool  # True when it came from the cache without training
    seconds: float = 0.0  # training time (0 when cached) or loading time


def default_dir() -> Path:
    from harbench.data.cache import default_cache_dir

    return default_cache_dir() / "pretrain"


CHECKPOINT_FILES = ("weights.pt", "curves.json", "stage.json")


def _load(folder: Path) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]] | None:
    """The cached checkpoint in ``folder``; None when absent, or when its bytes fail their
    checksums (the entry is then discarded with a warning naming the file, and retrained)."""
    from harbench import checksums

    weights, curves = folder / "weights.pt", folder / "curves.json"
    if not (weights.is_file() and curves.is_file()):
        return None
    if not checksums.verified(folder, "pretraining checkpoint", CHECKPOINT_FILES):
        return None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        rows = json.loads(curves.read_text())
    except Exception as exc:  # a corrupt entry is an error the user should see, with its path
        raise HarbenchError(f"{folder}: cached pretraining checkpoint is unreadable ({exc}); "
                            "delete the folder to retrain") from None
    return state, rows


def _store(folder: Path, state: dict[str, torch.Tensor], curves: list[dict[str, float]],
           stage: dict[str, Any]) -> None:
    from harbench import checksums
    from harbench.atomic import write_folder

    def fill(tmp: Path) -> None:
        torch.save(state, tmp / "weights.pt")
        (tmp / "curves.json").write_text(json.dumps(curves))
        (tmp / "stage.json").write_text(json.dumps(_plain(stage), indent=1, sort_keys=True))
        checksums.write(tmp, list(CHECKPOINT_FILES))

    write_folder(folder, fill)  # False: another process stored the same checkpoint first


def training_params(stage: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``pretrain`` (or ``supervised``) that a stage sets."""
    keys = (objectives.SUPERVISED_KEYS if stage.get("objective") == "supervised"
            else objectives.TRAINING_KEYS)
    return {k: stage[k] for k in keys if stage.get(k) is not None}


def cached_pretrain(
    stage: dict[str, Any],
    build_fn: Callable[[], nn.Module],
    data_fn: Callable[[], np.ndarray | SourceData],
    cache_dir: str | Path | None = None,
    device: str | torch.device | None = None,
) -> Pretrained:
    """The stage's checkpoint from the cache, or trained now and stored there.

    On a miss, ``data_fn()`` gives the data (an array for a self-supervised objective, a
    :class:`SourceData` for ``supervised``), then ``build_fn()`` builds the model under
    ``torch.manual_seed`` of the stage's seed. Neither is called on a hit.
    """
    key = checkpoint_key(stage)
    folder = Path(cache_dir) / "pretrain" / key if cache_dir is not None else default_dir() / key
    started = time.perf_counter()
    hit = _load(folder)
    if hit is not None:
        return Pretrained(hit[0], hit[1], key, folder, True, time.perf_counter() - started)
    data = data_fn()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(stage.get("seed") or 0))
        model = build_fn()
    started = time.perf_counter()
    params = training_params(stage)
    if stage.get("objective") == "supervised":
        if not isinstance(data, SourceData):
            raise HarbenchError("supervised pretraining needs labelled source data")
        state, curves = objectives.supervised(model, data.X, data.y, data.subjects,
                                   n_classes=len(data.classes), device=device, **params)
    else:
        state, curves = objectives.pretrain(model, data, device=device, **params)
    seconds = time.perf_counter() - started
    _store(folder, state, curves, {**stage, "seconds": round(seconds, 3)})
    return Pretrained(state, curves, key, folder, False, seconds)
