"""The pretraining stage (self-supervised MAE or supervised on source data) and its cache.

Objectives:

- ``mae``: self-supervised; the backbone exposes ``pretrain_loss(x, mask_ratio) -> scalar``
  (x float32 [B, T, C]); submodules that serve pretraining only (a decoder) are listed in the
  model's ``pretrain_modules`` attribute. Trained on the run's training windows (the source
  subjects under ``subject_adaptation``) or on the stage's ``datasets``.
- ``supervised``: any backbone, trained with labels (cross-entropy, a validation split of source
  subjects, early stopping) on the protocol's source data: the fold's ``source`` subjects under
  ``subject_adaptation``, else the run's training subjects (never its test or validation
  subjects), or the stage's other ``datasets`` under LODO (class names pooled across datasets).
  The run loads it and keeps the head when the classes are its own dataset's; otherwise the head
  is re-created for the target's classes.

The stage as a unit of the plan: ``stage_key(spec)`` (from the spec alone: no window is loaded,
nothing trains) names the checkpoint a run needs; ``ensure_stage(spec)`` trains and caches it if
missing; ``for_run(spec, model, data)`` loads it into the run's model (training it first on a miss).

Checkpoints live under ``<HARBENCH_CACHE>/pretrain/<key>/`` (``weights.pt`` read with
``weights_only=True``, ``curves.json``, ``stage.json``), the key hashing everything that shaped
them: model and params, the data (the run's dataset, the fingerprint of its raw files, window
and protocol settings, fold, the validation split where it shapes the source part, the plugin
versions and the core code's fingerprint; the pooled datasets' names, loader versions, raw-file
fingerprints and the subjects ``matrix.datasets`` restricts them to), the
objective's params and the seed (the stage's, or the run's when
the stage's is null). Pretraining runs on the run's device (``HARBENCH_DEVICE``).

Modules: ``objectives`` (the training loops), ``cache`` (checkpoint keys and folders), ``stage``
(a run's stage: its data, its name, loading it into the run's model).
"""

from __future__ import annotations

from harbench.pretrain.cache import (
    CHECKPOINT_FILES,
    FORMAT,
    Pretrained,
    SourceData,
    cached_pretrain,
    checkpoint_key,
    default_dir,
    training_params,
)
from harbench.pretrain.objectives import (
    OBJECTIVES,
    SELF_SUPERVISED,
    SUPERVISED_KEYS,
    TRAINING_KEYS,
    encoder_state,
    model_state,
    pretrain,
    reconstruction_loss,
    strip_pretraining,
    supervised,
)
from harbench.pretrain.stage import (
    Loaded,
    ensure_stage,
    for_run,
    identity,
    stage_key,
)

__all__ = [
    "CHECKPOINT_FILES", "FORMAT", "OBJECTIVES", "SELF_SUPERVISED", "SUPERVISED_KEYS",
    "TRAINING_KEYS", "Loaded", "Pretrained", "SourceData", "cached_pretrain",
    "checkpoint_key", "default_dir", "encoder_state", "ensure_stage", "for_run",
    "identity", "model_state", "pretrain", "reconstruction_loss", "stage_key",
    "strip_pretraining", "supervised", "training_params",
]
