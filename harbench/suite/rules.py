"""``exclude`` and ``overrides`` rules: what they match (checked against the registries and the
matrix, with did-you-mean) and what they set (checked against the typed settings).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from harbench import plugins
from harbench.settings import TrainingSettings, WindowSettings, plugin_params
from harbench.suite.axes import Entry, settings_part
from harbench.suite.located import Key, Where, check_keys, int_list, known, mapping

MATCH_KEYS = {"dataset", "model", "method", "seed", "fold"}


PARAM_MATCH_KEYS = {"model_params": "models", "method_params": "methods"}


SET_KEYS = {"window", "protocol", "training", "model", "method", "tuning"}


@dataclass(frozen=True)
class Rule:
    """An ``exclude`` rule or an ``overrides`` rule: what it matches, what it sets, where it is."""

    when: dict[str, Any]
    set: dict[str, dict[str, Any]]
    path: Key


def rule_list(
    where: Where, key: Key, value: Any, axes: dict[str, list[Entry]], *, with_set: bool
) -> list[Rule]:
    """The ``exclude`` (``with_set=False``) or ``overrides`` rules at ``key``, checked."""
    if value in (None, []):
        return []
    if not isinstance(value, list):
        raise where.error(key, "expected a list of rules")
    rules = []
    for i, rule in enumerate(value):
        rule = mapping(where, key + (i,), rule)
        rule_key = key + (i,)
        if with_set:
            check_keys(where, rule_key, rule, {"when", "set"})
            when_key = rule_key + ("when",)
            when = mapping(where, when_key, rule.get("when"))
            setter = _setter(where, rule_key + ("set",), rule.get("set"))
        else:
            when_key, when, setter = rule_key, rule, {}
        check_when(where, when_key, when, axes)
        rules.append(Rule(when, setter, rule_key))
    return rules


def check_when(where: Where, key: Key, when: dict[str, Any], axes: dict[str, list[Entry]]):
    """Every value a rule matches on must name something the matrix holds."""
    check_keys(where, key, when, MATCH_KEYS | set(PARAM_MATCH_KEYS))
    for k, expected in when.items():
        values = expected if isinstance(expected, list) else [expected]
        if k in ("seed", "fold"):
            int_list(where, key + (k,), values)
            continue
        if k in PARAM_MATCH_KEYS:
            _check_param_match(where, key, k, mapping(where, key + (k,), expected), when, axes)
            continue
        kind = k + "s"
        in_matrix = sorted({e.name for e in axes[kind]})
        for j, name in enumerate(values):
            at = key + (k, j) if isinstance(expected, list) else key + (k,)
            known(where, at, kind, name)
            if name not in in_matrix:
                raise where.error(
                    at, f"{k} {name!r} is not in matrix.{kind} ({', '.join(in_matrix)})"
                )


def _check_param_match(
    where: Where, key: Key, k: str, expected: dict, when: dict, axes: dict[str, list[Entry]]
) -> None:
    """``model_params``/``method_params`` keys must be parameters of a plugin they can match."""
    kind = PARAM_MATCH_KEYS[k]
    named = when.get(kind[:-1])
    names = set(named if isinstance(named, list) else [named]) if named else None
    candidates = {e.name for e in axes[kind] if names is None or e.name in names}
    known: set[str] = set()
    for name in candidates:
        known |= set(plugin_params(plugins.get(kind, name)))
    for param in expected:
        if param not in known:
            close = difflib.get_close_matches(str(param), sorted(known), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise where.error(
                key + (k, param),
                f"no {kind[:-1]} this rule can match ({', '.join(sorted(candidates))}) has a "
                f"parameter {param!r}.{hint}",
            )


def _setter(where: Where, key: Key, value: Any) -> dict[str, dict[str, Any]]:
    """An override's ``set``: known parts, settings values checked where they are written."""
    setter = mapping(where, key, value)
    check_keys(where, key, setter, SET_KEYS)
    out = {}
    for part, values in setter.items():
        if part == "tuning" and values is None:  # tuning: null leaves the cell untuned
            out[part] = None
            continue
        values = mapping(where, key + (part,), values)
        if part == "training":
            settings_part(where, key + (part,), values, TrainingSettings)
        elif part == "window":
            settings_part(where, key + (part,), values, WindowSettings)
        out[part] = dict(values)
    return out


def matches(rule: Rule, cell: dict[str, Any], model_params: dict, method_params: dict) -> bool:
    """Whether ``rule`` applies to ``cell`` (plugin parameters compared after defaults)."""
    for k, expected in rule.when.items():
        if k in PARAM_MATCH_KEYS:
            params = model_params if k == "model_params" else method_params
            if any(params.get(pk) != pv for pk, pv in expected.items()):
                return False
            continue
        allowed = expected if isinstance(expected, list) else [expected]
        if cell[k] not in allowed:
            return False
    return True
