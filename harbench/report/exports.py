"""The flat results table (one row per run, every metric a column), failures, exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report.formatting import fmt_mean_std, fmt_number, fmt_p
from harbench.report.runs import suite_filter
from harbench.store import Store

FLAT_SQL = """
    SELECT r.run_id, r.dataset, r.model, r.model_label, r.method, r.method_label, r.protocol,
           r.fold, r.seed, r.status, r.error, r.started_at, r.finished_at, r.device,
           r.harbench_version, r.torch_version, r.python_version, p.* EXCLUDE (run_id)
    FROM runs r LEFT JOIN (
        PIVOT (SELECT run_id, name, value FROM metrics) ON name USING first(value) GROUP BY run_id
    ) p ON p.run_id = r.run_id
"""


def failures(store: Store, suite: str | None = None) -> list[tuple]:
    """(dataset, model, method, fold, seed, error) of every failed run."""
    where, params = suite_filter(suite)
    return store.query(
        f"SELECT r.dataset, r.model_label, r.method_label, r.fold, r.seed, r.error FROM runs r "
        f"WHERE r.status = 'failed' {where} ORDER BY r.finished_at",
        params,
    )[1]


def flat(store: Store, suite: str | None = None) -> tuple[list[str], list[tuple]]:
    """One row per run with every metric as a column."""
    where, params = suite_filter(suite)
    return store.query(
        f"{_flat_sql(store)} WHERE true {where} ORDER BY r.dataset, r.run_id", params
    )


def _flat_sql(store: Store) -> str:
    if store.query("SELECT count(*) FROM metrics")[1][0][0] > 0:
        return FLAT_SQL
    return FLAT_SQL.split(", p.*")[0] + " FROM runs r"


def export(store: Store, fmt: str, output: Path, *, suite: str | None = None) -> Path:
    """Write the flat results table as csv or parquet, or the leaderboard as markdown."""
    from harbench.report.leaderboard import build
    from harbench.report.suites import check_suite

    check_suite(store, suite)
    if fmt == "markdown":
        board = build(store, suite=suite)
        output.write_text(markdown_table(board.columns, board.as_lists(), metric=board.metric))
        return output
    if fmt not in ("csv", "parquet"):
        raise HarbenchError(f"unknown export format {fmt!r}: use csv, parquet or markdown")
    sql = _flat_sql(store) + (
        f" WHERE r.run_id IN (SELECT run_id FROM suite_runs WHERE suite = {_quote(suite)})"
        if suite
        else ""
    )
    option = "(HEADER, DELIMITER ',')" if fmt == "csv" else "(FORMAT PARQUET)"
    store.query(f"COPY ({sql} ORDER BY r.dataset, r.run_id) TO {_quote(str(output))} {option}")
    return output


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def cell_texts(names: list[str], row: list[Any], metric: str | None = None) -> list[str]:
    """A table row as text: the metric as 'mean ± std' when a std column follows it."""
    out = []
    for name, value in zip(names, row):
        if name == "std" and metric and metric in names or name == "ci_high":
            continue
        if name == "ci_low":
            high = row[names.index("ci_high")] if "ci_high" in names else None
            out.append("-" if value is None else
                       f"{fmt_number(metric or name, value)}-{fmt_number(metric or name, high)}")
            continue
        if metric and name == metric and "std" in names:
            out.append(fmt_mean_std(value, row[names.index("std")], metric))
        elif name == "p":
            out.append(fmt_p(value))
        elif name.startswith("vs_"):
            out.append("-" if value is None else f"{value:+.3f}")
        else:
            out.append(fmt_number(name, value))
    return out


def display_names(names: list[str], metric: str | None = None) -> list[str]:
    """Column headers matching :func:`cell_texts` (std folded into the metric, CI in one)."""
    out = []
    for name in names:
        if name == "std" and metric and metric in names or name == "ci_high":
            continue
        out.append("95% CI" if name == "ci_low" else name)
    return out


def markdown_table(names: list[str], rows: list[list[Any]], metric: str | None = None) -> str:
    """A GitHub markdown table with harbench's number formats."""
    header = display_names(names, metric)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell_texts(names, list(row), metric)) + " |" for row in rows]
    return "\n".join(lines) + "\n"
