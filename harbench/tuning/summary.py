"""What the reports say about tuning: per configuration, the chosen settings, the trials run and
what they cost (trial-seconds, trial-MACs), beside the method's own cost.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from harbench.store import Store
from harbench.tuning import storage

COLUMNS = ("chosen", "trials", "pruned", "tuning_seconds", "tuning_macs")


def tuning_of(run: Any) -> dict[str, Any] | None:
    """The stored tuning record of a run (``config.tuning``), None for an untuned run."""
    record = (run.config or {}).get("tuning")
    return record if isinstance(record, dict) else None


def params_text(params: dict[str, Any]) -> str:
    """'lr=0.00312 r=4': the chosen values, short keys."""
    parts = []
    for key, value in sorted(params.items()):
        name = key.split(".", 1)[-1]
        parts.append(f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}")
    return " ".join(parts)


def row_summary(store: Store, runs: Iterable[Any]) -> dict[str, Any] | None:
    """The tuning columns of one leaderboard row (None when none of its runs is tuned): the
    chosen configuration (each distinct one, with the share of runs using it when they differ,
    e.g. one study per fold), trials run, how many were pruned, and their total seconds and
    MACs over the studies behind the row."""
    records = [r for r in (tuning_of(run) for run in runs) if r]
    if not records:
        return None
    studies = sorted({r["study"] for r in records})
    chosen: dict[str, int] = {}
    for record in records:
        text = params_text(record.get("params") or {})
        chosen[text] = chosen.get(text, 0) + 1
    if len(chosen) == 1:
        chosen_text = next(iter(chosen))
    else:
        chosen_text = "; ".join(f"{t} ({n}/{len(records)} runs)" for t, n in chosen.items())
    trials = [t for found in storage.load(store, studies).values() for t in found]
    return {
        "chosen": chosen_text,
        "trials": len(trials),
        "pruned": sum(1 for t in trials if t.state == "pruned"),
        "tuning_seconds": sum(t.seconds for t in trials),
        "tuning_macs": sum(t.macs for t in trials),
    }


def annotate(store: Store, board: Any, grouped: dict[tuple, list[Any]],
             row_of: dict[tuple, dict[str, Any]]) -> None:
    """Add the tuning columns to a leaderboard whose rows include a tuned configuration."""
    found = {key: row_summary(store, grouped[key]) for key in row_of}
    if not any(found.values()):
        return
    for key, row in row_of.items():
        row.update(found[key] or dict.fromkeys(COLUMNS))
    board.columns += list(COLUMNS)
    board.notes.append(
        "chosen: the configuration the tuning study picked on validation (never on test "
        "subjects or windows); trials: trials run for the row's studies (equal budget per "
        "method), pruned: how many stopped early; tuning_seconds / tuning_macs: their total "
        "cost (training MACs estimated as 3 x forward MACs x windows seen, plus validation)")


def tuning_html(store: Store, suite: str | None) -> str:
    """The report's tuning section: one row per study (empty when the suite tunes nothing)."""
    from harbench.report.runs import load_runs

    runs = load_runs(store, suite)
    by_study: dict[str, list[Any]] = {}
    for run in runs:
        record = tuning_of(run)
        if record:
            by_study.setdefault(record["study"], []).append(run)
    if not by_study:
        return ""
    trials = storage.load(store, by_study)
    columns = ["dataset", "model", "method", "study", "chosen", "trials", "completed", "pruned",
               "failed", "tuning s", "tuning GMACs", "method fit s (mean)"]
    rows = []
    for study, members in sorted(by_study.items(), key=lambda kv: kv[1][0].method_label):
        found = trials[study]
        first = members[0]
        fit = [r.metrics.get("fit_seconds") for r in members if "fit_seconds" in r.metrics]
        rows.append([
            first.dataset, first.model_label, first.method_label, study[:10],
            params_text(tuning_of(first).get("params") or {}), len(found),
            *(sum(1 for t in found if t.state == s) for s in ("completed", "pruned", "failed")),
            f"{sum(t.seconds for t in found):.1f}", f"{sum(t.macs for t in found) / 1e9:.3g}",
            f"{sum(fit) / len(fit):.1f}" if fit else "-",
        ])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return ("<h2>Tuning</h2><p class='note'>one study per method configuration (per fold for "
            "subject-independent protocols); trials scored on validation only; the chosen "
            "configuration is frozen for the reported runs. Tuning cost beside the method's "
            "own training time.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
