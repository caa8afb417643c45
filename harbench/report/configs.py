"""Configuration keys of runs: what distinguishes one configuration from another.

Two runs belong to the same configuration when their canonical specs (``runs.config``) agree on
everything except the fold and the seed. The readable "config" label lists only the keys that vary
inside the selection (per dataset) and that the model and method labels do not already show.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
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


# what a null setting means where "none" would mislead (a null budget trains on every window)
NULL_MEANS = {"training.budget": "all"}


def config_label(run: Run, keys: list[str]) -> str:
    """'budget.per_class=5 pretrain.objective=mae': the run's values of the varying ``keys``.

    A setting that is a mapping in some runs and null in others (a label budget) varies as the
    mapping's keys (and as the setting itself where it is stored as null): a run shows the keys
    it has (``budget.fraction=0.1``) or, when its setting is null, the setting (``budget=all``),
    never both.
    """
    flat = run.flat_config()
    parts: list[str] = []
    for key in keys:
        if any(k.startswith(key + ".") and k in flat for k in keys):
            continue  # shown by its keys
        if key not in flat and _other_kind(key, flat):
            continue  # a budget of another kind: its own keys name it
        shown = key if key in flat else (_null_owner(key, flat) or key)
        value = flat.get(shown)
        text = NULL_MEANS.get(shown, "none") if value is None else _value_text(value)
        part = f"{short_key(shown)}={text}"
        if part not in parts:
            parts.append(part)
    return " ".join(parts)


def _other_kind(key: str, flat: dict[str, Any]) -> bool:
    """Whether ``key`` is absent because its setting (one of ``NULL_MEANS``) has other keys here."""
    parent = key.rpartition(".")[0]
    return parent in NULL_MEANS and any(k.startswith(parent + ".") for k in flat)


def _null_owner(key: str, flat: dict[str, Any]) -> str | None:
    """The setting above ``key`` that is null in this run (so ``key`` is absent), if known."""
    pieces = key.split(".")
    for end in range(len(pieces) - 1, 0, -1):
        prefix = ".".join(pieces[:end])
        below = any(k.startswith(prefix + ".") for k in flat)
        if not below and flat.get(prefix) is None and (prefix in flat or prefix in NULL_MEANS):
            return prefix
    return None


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


# ---- configurations as figures draw them ------------------------------------------------------

FACET_KEYS = ("dataset", "protocol.name")  # never pooled in one panel
LABEL_KEYS = ("model", "model_params", "method", "method_params")  # shown by the labels
HIDDEN_KEYS = ("versions", "data_fingerprint")  # follow the dataset, model or method


@dataclass
class Configuration:
    """One configuration's runs (every fold and seed of it) and the names a figure gives it.

    ``model`` and ``method`` name their plugin with every parameter that differs from the
    plugin's default or between configurations of the selection (``lora(r=8)``); ``settings`` is
    the other settings that vary within the facet (``budget.per_class=5``); ``facet`` is the
    (dataset, protocol) panel the configuration belongs to.
    """

    key: tuple
    runs: list[Run]
    dataset: str
    protocol: str
    model: str
    method: str
    settings: str = ""
    show_model: bool = False

    @property
    def facet(self) -> tuple[str, str]:
        return (self.dataset, self.protocol)

    @property
    def label(self) -> str:
        """What tells this configuration apart inside its facet: ``convnet1d · lora(r=8) k=v``."""
        head = f"{self.model} · {self.method}" if self.show_model else self.method
        return f"{head} {self.settings}".strip()

    def columns(self) -> dict[str, str]:
        """The group keys of a figure's data file."""
        return {"dataset": self.dataset, "protocol": self.protocol, "backbone": self.model,
                "method": self.method, "settings": self.settings}


def _plugin_defaults(kind: str, name: str) -> dict[str, Any] | None:
    """The plugin's declared defaults, or None when it is not installed here."""
    from harbench import plugins
    from harbench.settings import defaults_of, plugin_params

    try:
        return defaults_of(plugin_params(plugins.get(kind, name)))
    except Exception:  # a store read where the plugin is absent: its stored params stand alone
        return None


def plugin_label(kind: str, name: str, params: dict[str, Any], show: Iterable[str] = (),
                 hide: Iterable[str] = ()) -> str:
    """``name(k=v,...)``: parameters that differ from the default, and those named in ``show``;
    never those in ``hide``."""
    defaults = _plugin_defaults(kind, name)
    filled = {**(defaults or {}), **params}
    show, hide = set(show), set(hide)
    shown = {k: v for k, v in sorted(filled.items()) if k not in hide and (
        k in show or defaults is None or k not in defaults or defaults[k] != v)}
    if not shown:
        return name
    return f"{name}(" + ",".join(f"{k}={_value_text(v)}" for k, v in shown.items()) + ")"


def _varying_params(runs: list[Run], name_key: str, params_key: str) -> dict[str, set[str]]:
    """Per plugin name, the parameters whose value differs between the runs using it."""
    values: dict[str, dict[str, set[str]]] = {}
    for run in runs:
        params = run.config.get(params_key) or {}
        per_name = values.setdefault(str(run.config.get(name_key, "")), {})
        for key in set(params) | set(per_name):
            per_name.setdefault(key, set()).add(repr(params.get(key, "<default>")))
    return {name: {k for k, seen in per_name.items() if len(seen) > 1}
            for name, per_name in values.items()}


def configurations(runs: list[Run], *, drop: Iterable[str] = ()) -> list[Configuration]:
    """Runs grouped by everything that distinguishes a configuration, one group per mark.

    The key is :func:`config_key` (the leaderboard's: dataset, backbone and its parameters,
    method and its parameters, protocol, budget, pretraining, window, training; fold and seed
    excluded) without the settings in ``drop`` (a sweep's swept setting). Ordered by facet,
    backbone, method and settings.
    """
    drop = tuple(drop)
    model_params = _varying_params(runs, "model", "model_params")
    method_params = _varying_params(runs, "method", "method_params")
    ignored = tuple(REPLICATE_KEYS) + drop
    shown_by_labels = LABEL_KEYS + HIDDEN_KEYS + ("dataset", "protocol.name")

    def facet_of(run: Run) -> tuple:
        return (run.dataset, run.protocol)

    other = [k for k in varying_keys(runs, within=facet_of)
             if not any(k == d or k.startswith(d + ".") for d in shown_by_labels + ignored)]
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(config_key(run, drop=drop), []).append(run)
    out = []
    for key, members in groups.items():
        first = members[0]
        model = str(first.config.get("model", first.model))
        method = str(first.config.get("method", first.method))
        out.append(Configuration(
            key=key, runs=members, dataset=first.dataset, protocol=first.protocol,
            model=plugin_label("models", model, first.config.get("model_params") or {},
                               model_params.get(model, ()), _hidden(drop, "model_params.")),
            method=plugin_label("methods", method, first.config.get("method_params") or {},
                                method_params.get(method, ()), _hidden(drop, "method_params.")),
            settings=config_label(first, other),
        ))
    models_per_facet: dict[tuple, set[str]] = {}
    for c in out:
        models_per_facet.setdefault(c.facet, set()).add(c.model)
    for c in out:
        c.show_model = len(models_per_facet[c.facet]) > 1
    return sorted(out, key=lambda c: (c.facet, c.model, c.method, c.settings))


def _hidden(drop: tuple[str, ...], prefix: str) -> set[str]:
    return {d[len(prefix):] for d in drop if d.startswith(prefix)}


def facets(configs: list[Configuration]) -> dict[tuple[str, str], list[Configuration]]:
    """Configurations per (dataset, protocol) panel, in order."""
    out: dict[tuple[str, str], list[Configuration]] = {}
    for c in configs:
        out.setdefault(c.facet, []).append(c)
    return out


def facet_title(facet: tuple[str, str], every: Iterable[tuple[str, str]]) -> str:
    """``pamap2``, or ``pamap2 · loso`` when the selection holds several protocols."""
    protocols = {p for _, p in every}
    return f"{facet[0]} · {facet[1]}" if len(protocols) > 1 else facet[0]
