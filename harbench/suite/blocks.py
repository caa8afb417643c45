"""The suite-wide blocks: the pretraining stage, the datasets a protocol pools (asked of the
protocol plugin: the suite knows none by name) and recordings shared between datasets, the
common time-to-target (``compare``) and the executor.
"""

from __future__ import annotations

from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.settings import (
    ExecutorSettings,
    Param,
    PretrainSettings,
    executor_options,
    plugin_params,
    resolve,
)
from harbench.suite.axes import Entry
from harbench.suite.located import Key, Where, check_keys, known, mapping, names_of

COMPARE_KEYS = {"reference", "fraction", "f1"}


def pretrain_stage(
    where: Where, key: Key, value: Any, models: list[Entry]
) -> PretrainSettings | None:
    """``defaults.pretrain`` checked (its models and datasets against the registries)."""
    if value in (None, False):
        return None
    given = mapping(where, key, value)
    try:
        stage = PretrainSettings.from_dict(given)
    except HarbenchError as exc:
        where.fail(key, exc)
    in_matrix = {m.name for m in models}
    for i, name in enumerate(names_of(stage.models)):
        known(where, key + ("models", i), "models", name)
        if name not in in_matrix:
            raise where.error(
                key + ("models", i),
                f"model {name!r} is not in matrix.models ({', '.join(sorted(in_matrix))})",
            )
    for i, name in enumerate(names_of(stage.datasets)):
        known(where, key + ("datasets", i), "datasets", name)
    return stage


def dataset_pools(
    where: Where, protocol: dict[str, Any], datasets: list[Entry], pretrain: PretrainSettings | None
) -> dict[str, list[str]]:
    """Ask the suite's protocol which datasets a stage pools for each held-out dataset (its
    ``check_suite`` first: a protocol across datasets may demand several, or a stage)."""
    name = protocol.get("name")
    if not name:  # each dataset's own protocol: none pools other datasets
        return {}
    chosen = known(where, ("defaults", "protocol", "name"), "protocols", name)
    given = {k: v for k, v in protocol.items() if k != "name"}
    try:
        params = resolve(f"protocol {name!r}", plugin_params(chosen), given)
    except HarbenchError as exc:
        where.fail(("defaults", "protocol"), exc)
    names = [d.name for d in datasets]
    check = getattr(chosen, "check_suite", None)
    if check is not None:
        try:
            check(names, pretrain is not None, params)
        except HarbenchError as exc:
            located = bool(getattr(exc, "path", ()))  # a ParamError names its parameter
            where.fail(("defaults", "protocol") + (() if located else ("name",)), exc)
    pools = getattr(chosen, "pools", None)
    if pools is None:
        return {}
    answers = {}
    for held_out in dict.fromkeys(names):
        pooled = pools(held_out, names, params)
        if not isinstance(pooled, (list, tuple)) or held_out in pooled or not set(pooled) <= set(
            names
        ):
            raise where.error(
                ("defaults", "protocol", "name"),
                f"protocol {name!r} answered pools({held_out!r}) with {pooled!r}: it may name "
                f"only the other datasets of matrix.datasets ({', '.join(names)})",
            )
        answers[held_out] = list(pooled)
    return answers


def check_shared_recordings(
    where: Where, datasets: list[Entry], pretrain: PretrainSettings | None,
    pools: dict[str, list[str]],
) -> None:
    """Refuse a held-out dataset whose recordings a pretraining dataset also holds (leakage)."""
    if pretrain is None:
        return
    for entry in datasets:
        held_out = plugins.get("datasets", entry.name)
        origin = getattr(held_out, "recordings_from", "")
        if not origin:
            continue
        pooled = list(pools.get(entry.name, []))
        pooled += [d for d in names_of(pretrain.datasets) if d != entry.name]
        for other in pooled:
            if getattr(plugins.get("datasets", other), "recordings_from", "") == origin:
                raise where.error(
                    entry.path,
                    f"held-out dataset {entry.name!r} and pretraining dataset {other!r} share "
                    f"their recordings ({origin!r}): the backbone would be pretrained on the "
                    f"people and signals it is tested on. Keep only one of {entry.name!r} and "
                    f"{other!r} in the suite.",
                )


def compare_block(where: Where, value: Any, methods: list[Entry]) -> dict[str, Any] | None:
    """``compare: {reference: full, fraction: 0.95}`` or ``{reference: full, f1: 0.8}``: the
    common time-to-target of the suite's comparisons (read by the reports)."""
    if value is None:
        return None
    key: Key = ("compare",)
    given = mapping(where, key, value)
    check_keys(where, key, given, COMPARE_KEYS)
    if "fraction" in given and "f1" in given:
        raise where.error(key, "give either fraction (of the reference's best F1) or f1, not both")
    reference = given.get("reference", "full")
    known(where, key + ("reference",), "methods", reference)
    in_matrix = sorted({m.name for m in methods})
    if reference not in in_matrix:
        raise where.error(
            key + ("reference",),
            f"reference method {reference!r} is not in matrix.methods ({', '.join(in_matrix)})",
        )
    unit = Param(0.95, min=0, min_exclusive=True, max=1)
    out: dict[str, Any] = {"reference": reference}
    target = "f1" if "f1" in given else "fraction"
    try:
        out[target] = unit.check(given.get(target, 0.95))
    except HarbenchError as exc:
        raise where.error(key + (target,), str(exc)) from None
    return out


def executor_block(where: Where, value: Any) -> dict[str, Any]:
    """``executor:``: name and workers, then the executor plugin's own options."""
    key: Key = ("executor",)
    given = dict(mapping(where, key, value))
    base = {k: given.pop(k) for k in ("name", "workers") if k in given}
    try:
        settings = ExecutorSettings.from_dict(base)
    except HarbenchError as exc:
        where.fail(key, exc)
    known(where, key + ("name",), "executors", settings.name)
    try:
        options = executor_options(settings.name, given)
    except HarbenchError as exc:
        where.fail(key, exc)
    return {**settings.to_dict(), **options}
