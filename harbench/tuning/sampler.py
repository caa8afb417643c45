"""Optuna's TPE sampler, asked by the coordinator (the study's only owner) for each trial.

The study is rebuilt in memory from the stored trials each time it is asked, and trial ``n`` is
drawn by a sampler seeded from (the tuning seed, the study key, ``n``), from the trials of the
batches before ``n``'s. So trial ``n``'s parameters are the same whether the study ran straight
through, was killed and resumed, or ran on another executor.

Batches: ``parallel: k`` asks k trials at once from the same history; each of them is drawn
without knowing the other k-1 (no constant liar), so a larger batch moves TPE towards random
search for small budgets. Studies of different methods and folds are independent and run side
by side whatever ``parallel`` is.
"""

from __future__ import annotations

import hashlib
from typing import Any

from harbench.tuning.block import Dimension
from harbench.tuning.pruning import best_so_far


def distributions(space: dict[str, Dimension]) -> dict[str, Any]:
    import optuna.distributions as d

    out: dict[str, Any] = {}
    for key, dim in sorted(space.items()):
        if dim.kind == "categorical":
            out[key] = d.CategoricalDistribution(list(dim.values))
        elif dim.kind in ("int", "log_int"):
            out[key] = d.IntDistribution(int(dim.values[0]), int(dim.values[1]),
                                         log=dim.kind == "log_int")
        else:
            out[key] = d.FloatDistribution(float(dim.values[0]), float(dim.values[1]),
                                           log=dim.kind == "log_uniform")
    return out


def trial_seed(seed: int, study: str, number: int) -> int:
    text = f"{seed}:{study}:{number}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")


def ask(study: Any, history: list[Any], number: int) -> dict[str, Any]:
    """The parameters of trial ``number`` of ``study`` given the stored ``history`` (the trials
    of earlier batches)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = distributions(study.space)
    sampler = optuna.samplers.TPESampler(
        seed=trial_seed(study.tuning.seed, study.key, number),
        n_startup_trials=study.tuning.startup_trials,
    )
    rebuilt = optuna.create_study(direction="maximize", sampler=sampler)
    for record in sorted(history, key=lambda r: r.number):
        rebuilt.add_trial(_frozen(optuna, record, dists))
    return dict(rebuilt.ask(dists).params)


_STATES = {"completed": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}


def _frozen(optuna: Any, record: Any, dists: dict[str, Any]) -> Any:
    state = getattr(optuna.trial.TrialState, _STATES[record.state])
    params = {k: v for k, v in record.params.items() if k in dists}
    return optuna.trial.create_trial(
        params=params,
        distributions={k: dists[k] for k in params},
        value=record.value if record.state == "completed" else None,
        state=state,
        intermediate_values=best_so_far(record.curve) if record.state != "failed" else None,
    )
