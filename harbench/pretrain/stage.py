"""The stage of a run: what pretraining data a run's stage uses (its own source windows, other
datasets pooled), the stage's identity (named from the spec alone, without loading windows),
and loading the checkpoint into the run's model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from harbench.contracts import HarbenchError
from harbench.pretrain.cache import (
    Pretrained,
    SourceData,
    cached_pretrain,
    checkpoint_key,
)
from harbench.pretrain.objectives import _check_objective, _head_name, _loss_fn, _under

_OTHER_DATASET_OFFSET = 1_000_000  # subject ids of other datasets are shifted by k * this


def _head_classes(model: nn.Module) -> int:
    head = getattr(model, _head_name(model), None)
    return int(getattr(head, "out_features", 1) or 1)


def _own_only(stage: dict[str, Any], run_dataset: str) -> bool:
    """Whether the stage's data are the run's own dataset alone."""
    return all(name == run_dataset for name in stage.get("datasets") or [run_dataset])


def _describe_data(stage: dict[str, Any], spec: Any) -> dict[str, Any]:
    """What the pretraining data are, for the checkpoint key, from the spec alone (no window
    is loaded): the windows of the run's source part follow from the dataset's raw files, the
    window and protocol settings, the fold, the validation split carved from its training part
    (``val_fraction`` and the run's seed; left out where the protocol's source part is the data
    and the stage has its own seed), the dataset and protocol versions and the core code
    that makes windows and folds (``harbench.codeprint.core``)."""
    from harbench import codeprint

    versions = dict(getattr(spec, "versions", None) or {})
    own = {
        "dataset": spec.dataset,
        "dataset_params": dict(getattr(spec, "dataset_params", None) or {}),
        "files": getattr(spec, "data_fingerprint", ""),
        "window": dict(spec.window or {}),
        "protocol": dict(spec.protocol or {}),
        "fold": int(spec.fold),
        "validation": {"val_fraction": (spec.training or {}).get("val_fraction"),
                       "seed": int(spec.seed)},
        "versions": {k: versions.get(k) for k in ("dataset", "protocol")},
        "code": codeprint.core(),
    }
    if stage.get("seed") is not None and _source_part(spec):
        # the source part is the protocol's, untouched by the run's validation carve: with the
        # stage's own seed nothing of the run seed shapes the stage, so the run seeds share it.
        # (Without a stage seed the run's seed keys the stage anyway; the entry stays, and so
        # do the keys of existing checkpoints.)
        del own["validation"]
    datasets = stage.get("datasets")
    if not datasets:
        return own
    return {"datasets": [own if name == spec.dataset else _describe_other(stage, spec, name)
                         for name in datasets]}


def _describe_other(stage: dict[str, Any], spec: Any, name: str) -> dict[str, Any]:
    """A pooled dataset for the checkpoint key: its subjects, raw files, window, loader."""
    from harbench import plugins
    from harbench.spec import data_fingerprint

    subjects = _pooled_subjects(stage, name)
    return {"dataset": name, "window": dict(spec.window or {}),
            "subjects": "all" if subjects is None else subjects,
            "files": data_fingerprint(name, None if subjects is None else tuple(subjects)),
            "loader_version": plugins.get("datasets", name).loader_version}


def _pooled_subjects(stage: dict[str, Any], name: str) -> list[int] | None:
    """The subjects a pooled dataset is restricted to (``matrix.datasets``), None: all."""
    chosen = (stage.get("dataset_subjects") or {}).get(name)
    return None if chosen is None else [int(s) for s in chosen]


def _source_part(spec: Any) -> bool:
    """Whether the run's protocol gives every fold a source part (``ProtocolPlugin.source_part``):
    the windows a stage trains on then follow from the fold alone, not from the run's seed."""
    from harbench import plugins

    name = (spec.protocol or {}).get("name")
    return name is not None and bool(getattr(plugins.get("protocols", name), "source_part", False))


def _subject_list(data: Any) -> list[int]:
    return sorted(int(s) for s in np.unique(data.windows.subject[data.source]))


def _other_windows(name: str, spec: Any, shape: tuple[int, ...], subjects: list[int] | None):
    from harbench.data.load import load_windows

    other = load_windows(name, subjects=subjects, **dict(spec.window or {}))
    if np.asarray(other.X).shape[1:] != shape:
        raise HarbenchError(
            f"pretraining dataset {name!r} gives windows of shape {other.X.shape[1:]} "
            f"(samples, channels) but the run's dataset {spec.dataset!r} gives {shape}; "
            "pretraining datasets must share the window length and channels"
        )
    return other


def _gather(stage: dict[str, Any], spec: Any, data: Any) -> np.ndarray | SourceData:
    """The pretraining data: the run's source windows and/or the listed datasets' windows.

    Another dataset's windows are z-scored on themselves; for ``supervised``, class names are
    pooled across datasets and subject ids of the k-th other dataset are shifted by k million.
    """
    from harbench.data.normalise import ZScore

    names = stage.get("datasets") or [spec.dataset]
    own_X = data.normalised(data.source)
    shape = own_X.shape[1:]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]] = []
    for k, name in enumerate(names, start=1):
        if name == spec.dataset:
            w = data.windows
            parts.append((own_X, w.y[data.source], w.subject[data.source], tuple(w.classes)))
            continue
        other = _other_windows(name, spec, shape, _pooled_subjects(stage, name))
        X = np.asarray(other.X)
        parts.append((ZScore.fit(X).apply(X), np.asarray(other.y),
                      np.asarray(other.subject) + k * _OTHER_DATASET_OFFSET,
                      tuple(other.classes)))
    X = np.concatenate([p[0] for p in parts])
    if stage.get("objective") != "supervised":
        return X
    classes = tuple(sorted({c for p in parts for c in p[3]}))
    if _own_only(stage, spec.dataset):
        classes = tuple(data.windows.classes)  # the run's own order: its head can be kept
    index = {c: i for i, c in enumerate(classes)}
    y = np.concatenate([np.array([index[p[3][v]] for v in p[1]], dtype=np.int64)
                        for p in parts])
    subjects = np.concatenate([np.asarray(p[2], dtype=np.int64) for p in parts])
    return SourceData(X, y, subjects, classes)


def identity(spec: Any) -> dict[str, Any]:
    """Everything that shapes the checkpoint of ``spec.pretrain``, from the spec alone."""
    stage = dict(spec.pretrain or {})
    objective = stage.get("objective", "mae")
    _check_objective(objective)
    seed = stage.get("seed")
    return {
        "model": spec.model,
        "model_params": spec.model_params,
        "data": _describe_data(stage, spec),
        **{k: v for k, v in stage.items() if k not in ("datasets", "models", "dataset_subjects")},
        "objective": objective,
        "seed": int(spec.seed if seed is None else seed),
    }


@dataclass
class Loaded:
    """What loading a stage into a run's model did."""

    key: str
    curves: list[dict[str, float]]
    cached: bool
    load_seconds: float  # reading the checkpoint and loading it (setup time)
    train_seconds: float  # training it here, on a cache miss (0 when cached)
    head_kept: bool  # the pretrained head classifies the run's own classes
    subjects: list[int] = field(default_factory=list)  # the run's dataset's subjects it saw


def _stage(spec: Any, data: Any, run_model: nn.Module | None) -> tuple[Pretrained, dict]:
    from harbench import blocks

    ident = identity(spec)
    stage = dict(spec.pretrain or {})
    source = getattr(data.fold, "source", None)
    if stage.get("seed") is not None and _source_part(spec) and (source is None or not len(source)):
        raise HarbenchError(
            f"protocol {spec.protocol.get('name')!r} declares source_part = True but its fold "
            f"{data.fold.name!r} has no source windows: the run seeds would share a stage trained "
            "on one seed's training part (fix the protocol, or drop source_part)"
        )
    if ident["objective"] != "supervised" and run_model is not None:
        _loss_fn(run_model, ident["objective"])  # fail early, naming the model
    _, window, channels = np.asarray(data.windows.X[:1]).shape
    head_classes = _head_classes(run_model) if run_model is not None else len(data.windows.classes)
    gathered: dict[str, Any] = {}

    def data_fn() -> np.ndarray | SourceData:
        gathered["data"] = _gather(stage, spec, data)
        return gathered["data"]

    def build() -> nn.Module:
        got = gathered.get("data")
        classes = len(got.classes) if isinstance(got, SourceData) else head_classes
        model = blocks.build_model(spec.model, channels=channels, window=window, classes=classes,
                                **spec.model_params)
        if ident["objective"] != "supervised":
            _loss_fn(model, ident["objective"])
        return model

    from harbench.devices import run_device

    return cached_pretrain(ident, build, data_fn, device=run_device()), ident


def stage_key(spec: Any) -> str | None:
    """The checkpoint key of the run's pretraining stage (None without one), from the spec
    alone: no window is loaded, nothing trains."""
    if getattr(spec, "pretrain", None) is None:
        return None
    return checkpoint_key(identity(spec))


def ensure_stage(spec: Any) -> None:
    """Train and cache the run's pretraining stage unless it is cached (a no-op then)."""
    if getattr(spec, "pretrain", None) is None:
        return
    from harbench.rundata import prepare

    _stage(spec, prepare(spec), None)


def for_run(spec: Any, model: nn.Module, data: Any) -> Loaded:
    """Load the checkpoint of ``spec.pretrain`` into the run's ``model`` (training it on a miss).

    ``data`` is the run's :class:`harbench.rundata.RunData`. A supervised checkpoint's head is
    loaded only when it was trained on the run's own dataset alone (same classes).
    """
    result, ident = _stage(spec, data, model)
    started = time.perf_counter()
    stage = dict(spec.pretrain or {})
    head_kept = ident["objective"] == "supervised" and _own_only(stage, spec.dataset)
    state = result.state
    if not head_kept:
        head = (_head_name(model),)
        state = {k: v for k, v in state.items() if not _under(k, head)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise HarbenchError(f"pretrained checkpoint has unexpected keys: {unexpected[:5]}")
    load_seconds = time.perf_counter() - started + (result.seconds if result.cached else 0.0)
    subjects = _subject_list(data) if spec.dataset in (stage.get("datasets") or
                                                        [spec.dataset]) else []
    return Loaded(result.key, result.curves, result.cached, load_seconds,
                  0.0 if result.cached else result.seconds, head_kept, subjects)
