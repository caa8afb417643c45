"""Suites known to the store: names (with did-you-mean) and their stored YAML."""

from __future__ import annotations

import difflib
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report.runs import has_table
from harbench.store import Store


def suite_names(store: Store) -> list[str]:
    """Every suite name the store has runs or YAML for."""
    names = {r[0] for r in store.query("SELECT DISTINCT suite FROM suite_runs")[1]}
    if has_table(store, "suites"):
        names |= {r[0] for r in store.query("SELECT DISTINCT suite FROM suites")[1]}
    return sorted(names)


def check_suite(store: Store, suite: str | None) -> None:
    """Raise a did-you-mean HarbenchError when ``suite`` is given but unknown to the store."""
    if not suite:
        return
    names = suite_names(store)
    if suite in names:
        return
    close = difflib.get_close_matches(suite, names, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
    known = f" Stored suites: {', '.join(names)}." if names else " The store holds no suite."
    raise HarbenchError(f"--suite {suite!r}: no such suite in {store.path}{hint}{known}")


def suite_yaml(store: Store, suite: str) -> str | None:
    """The suite's YAML text as stored by the coordinator (None for stores without it)."""
    if not has_table(store, "suites"):
        return None
    rows = store.query(
        "SELECT yaml FROM suites WHERE suite = ? ORDER BY updated_at DESC LIMIT 1", [suite]
    )[1]
    return rows[0][0] if rows else None


def compare_settings(store: Store, suite: str | None) -> dict[str, Any]:
    """The suite's ``compare:`` block ({reference, fraction | f1}), {} when absent.

    Without a suite name, the block of the store's only suite (if it holds exactly one).
    """
    if suite is None:
        names = suite_names(store)
        suite = names[0] if len(names) == 1 else None
    text = suite_yaml(store, suite) if suite else None
    if not text:
        return {}
    import yaml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return {}
    block = data.get("compare") if isinstance(data, dict) else None
    return dict(block) if isinstance(block, dict) else {}
