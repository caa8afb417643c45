"""Forgetting: what adapting to a target costs on the people the source model was built for.

Under ``subject_adaptation`` the protocol holds a few source subjects out of the source
(``Fold.held_out``: no pretraining stage and no z-score sees them). When the run's source model
keeps its head (supervised pretraining on the run's own dataset), their windows, z-scored like
every other window of the run, are scored twice:

- ``forget_source_macro_f1``: the source model as loaded, before the method adapts it;
- ``forget_adapted_macro_f1``: the deployable model (adapters merged or fused) after adaptation;
- ``forgetting`` = (source - adapted) x 100, in macro-F1 points; positive means the adapted model
  forgot. A method that changes nothing (``none``) forgets exactly 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harbench.train import evaluate, to_tensors

SOURCE = "forget_source_macro_f1"
ADAPTED = "forget_adapted_macro_f1"
FORGETTING = "forgetting"
METRICS = (SOURCE, ADAPTED, FORGETTING)


def held_out_part(data: Any) -> tuple[Any, Any] | None:
    """The held-out source windows of a run (normalised tensors and labels), or None."""
    index = getattr(data, "held_out", None)
    if index is None or len(index) == 0:
        return None
    return to_tensors(data.normalised(index), np.asarray(data.windows.y)[index])


def source_score(model: Any, held: tuple[Any, Any] | None, classes: int) -> dict[str, float]:
    """The source model's macro-F1 on the held-out windows ({} without them)."""
    if held is None:
        return {}
    scored = evaluate(model, *held, classes, phase="source model on held-out source subjects")
    return {SOURCE: scored["macro_f1"]}


def adapted_score(deployed: Any, held: tuple[Any, Any] | None, classes: int,
                  source: dict[str, float]) -> dict[str, float]:
    """The deployable model's macro-F1 on the held-out windows and the forgetting in points
    ({} when the source model was not scored on them)."""
    if held is None or SOURCE not in source:
        return {}
    scored = evaluate(deployed, *held, classes, phase="adapted model on held-out source subjects")
    adapted = scored["macro_f1"]
    return {ADAPTED: adapted, FORGETTING: (source[SOURCE] - adapted) * 100.0}
