"""Configuration keys of runs: what distinguishes one configuration from another.

Two runs belong to the same configuration when their canonical specs (``runs.config``) agree on
everything except the fold and the seed. The readable "config" label lists only the keys that vary
inside the selection (per dataset) and that the model and method labels do not already show.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from harbench.report.runs import Run

REPLICATE_KEYS = ("fold", "seed")  # repetitions of one configuration
METHOD_KEYS = ("method", "method_params", "versions.method")  # what changes with the method


def _top(key: str) -> str:
    return key.split(".", 1)[0]


def config_items(run: Run, *, drop: Iterable[str] = ()) -> dict[str, Any]:
    """The flattened spec without fold, seed and the keys in ``drop`` (and keys under them)."""
    dropped = tuple(REPLICATE_KEYS) + tuple(drop) + tuned_keys(run)
    return {k: v for k, v in run.flat_config().items()
            if not any(k == d or k.startswith(d + ".") for d in dropped)}


TUNED_PARTS = {"training": "training", "method": "method_params", "model": "model_params"}


def tuned_keys(run: Run) -> tuple[str, ...]:
    """What a tuned run's study chose (its values may differ per fold's study) and the study
    itself: left out of the configuration; the budget and the study family (the study without
    the fold: same space, settings, code and data) stay in it."""
    record = run.config.get("tuning") if isinstance(run.config, dict) else None
    if not isinstance(record, dict):
        return ()
    keys = ["tuning.study", "tuning.params", "tuning.label"]
    for key in record.get("params") or {}:
        part, _, name = key.partition(".")
        keys.append(f"{TUNED_PARTS.get(part, part)}.{name}")
    return tuple(keys)


def config_key(run: Run, *, drop: Iterable[str] = ()) -> tuple:
    """A hashable identity of the run's configuration (fold and seed excluded)."""
    items = config_items(run, drop=drop)
    return tuple(sorted((k, repr(v)) for k, v in items.items()))


def varying_keys(runs: list[Run], within: Callable[[Run], Hashable] | None = None) -> list[str]:
    """Flattened spec keys whose value differs between runs that ``within`` puts together.

    ``within`` returns what the table already shows apart (default: the dataset), so a key that
    only differs between rows that are told apart anyway (a method's version across methods, the
    data fingerprint across datasets) is not repeated in the label.
    """
    within = within or (lambda run: run.dataset)
    groups: dict[Hashable, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(within(run), []).append(config_items(run))
    keys: set[str] = set()
    for items in groups.values():
        every = set().union(*(i.keys() for i in items))
        for key in every:
            if len({repr(i.get(key, "<absent>")) for i in items}) > 1:
                keys.add(key)
    return sorted(keys)


def short_key(key: str) -> str:
    """``training.budget.per_class`` -> ``budget.per_class``; params lose their prefix."""
    for prefix in ("training.", "model_params.", "method_params.", "protocol."):
        if key.startswith(prefix):
            rest = key[len(prefix):]
            return rest if prefix != "protocol." else f"protocol.{rest}"
    return key


def config_label(run: Run, keys: list[str]) -> str:
    """'budget.per_class=5 pretrain.objective=mae': the run's values of the varying ``keys``."""
    flat = run.flat_config()
    return " ".join(f"{short_key(key)}={_value_text(flat.get(key))}" for key in keys)


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def resolve_key(runs: list[Run], name: str) -> str:
    """The flattened spec key that ``name`` ('r', 'budget.per_class', 'method_params.r') means."""
    every = sorted(set().union(*(r.flat_config().keys() for r in runs))) if runs else []
    if name in every:
        return name
    matches = [k for k in every if k.endswith("." + name)]
    varying = [k for k in matches if k in varying_keys(runs)]  # within each dataset
    chosen = varying or matches
    if len(chosen) == 1:
        return chosen[0]
    from harbench.contracts import HarbenchError

    if not chosen:
        raise HarbenchError(
            f"no stored run has a setting {name!r}; settings that vary: "
            f"{', '.join(varying_keys(runs)) or '(none)'}"
        )
    raise HarbenchError(f"setting {name!r} is ambiguous: {', '.join(chosen)}; name one of them")
