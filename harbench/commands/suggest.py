"""Did-you-mean for options that name something stored (a dataset, method or metric)."""

from __future__ import annotations

import difflib

from harbench.contracts import HarbenchError
from harbench.store import Store

STORED = {  # option -> SQL listing what the store holds for it
    "dataset": "SELECT DISTINCT dataset FROM runs",
    "method": "SELECT DISTINCT method FROM runs UNION SELECT DISTINCT method_label FROM runs",
    "model": "SELECT DISTINCT model FROM runs UNION SELECT DISTINCT model_label FROM runs",
    "metric": "SELECT DISTINCT name FROM metrics",
}


def check_stored(store: Store, **chosen: str | None) -> None:
    """Raise a clear error, with the closest stored name, for a chosen value nothing stored has
    (``check_stored(store, dataset="pamap", metric="macro_f")``); None means not chosen."""
    for option, value in chosen.items():
        if value is None:
            continue
        known = sorted(str(r[0]) for r in store.query(STORED[option])[1] if r[0] is not None)
        if value in known or not known:
            continue
        close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise HarbenchError(f"--{option} {value!r}: no stored run has it{hint}; stored: "
                            f"{', '.join(known)}")
