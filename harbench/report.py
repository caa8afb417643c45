"""Views of the store: the leaderboard, a flat results table, exports."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.store import Store

GROUP_COLUMNS = {
    "dataset": "r.dataset",
    "model": "r.model_label",
    "method": "r.method_label",
    "protocol": "r.protocol",
    "fold": "r.fold",
    "seed": "r.seed",
}
COST_METRICS = ("trainable_params", "trainable_share", "macs", "fit_seconds")


def _suite_filter(suite: str | None) -> tuple[str, list[Any]]:
    if not suite:
        return "", []
    return " AND r.run_id IN (SELECT run_id FROM suite_runs WHERE suite = ?)", [suite]


def leaderboard(
    store: Store,
    *,
    metric: str = "macro_f1",
    by: str = "dataset,model,method",
    suite: str | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """Mean ± std of ``metric`` over folds and seeds per group, best first within each dataset."""
    groups = [g.strip() for g in by.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUP_COLUMNS]
    if unknown or not groups:
        raise HarbenchError(
            f"--by {by!r}: unknown group {unknown[0] if unknown else ''!r}; "
            f"use a comma list of {', '.join(GROUP_COLUMNS)}"
        )
    known = {r[0] for r in store.query("SELECT DISTINCT name FROM metrics")[1]}
    if known and metric not in known:
        raise HarbenchError(
            f"unknown metric {metric!r}; stored metrics: {', '.join(sorted(known))}"
        )
    cols = [GROUP_COLUMNS[g] for g in groups]
    where, params = _suite_filter(suite)
    cost = ", ".join(
        f"avg(CASE WHEN m2.name = '{c}' THEN m2.value END) AS {c}" for c in COST_METRICS
    )
    sql = f"""
        WITH target AS (
            SELECT r.run_id, {", ".join(f"{c} AS g{i}" for i, c in enumerate(cols))}, m.value
            FROM runs r JOIN metrics m ON m.run_id = r.run_id AND m.name = ?
            WHERE r.status = 'ok' {where}
        )
        SELECT {", ".join(f"g{i}" for i in range(len(cols)))},
               avg(t.value) AS mean, stddev_samp(t.value) AS std, count(DISTINCT t.run_id) AS n,
               {cost}
        FROM target t LEFT JOIN metrics m2 ON m2.run_id = t.run_id
        GROUP BY ALL
        ORDER BY {", ".join(f"g{i}" for i in range(len(cols)) if groups[i] == "dataset")}
                 {"," if "dataset" in groups else ""} mean DESC
    """
    header, rows = store.query(sql, [metric, *params])
    names = groups + [metric, "std", "n", *COST_METRICS]
    out = []
    for row in rows:
        values = list(row)
        std = values[len(groups) + 1]
        values[len(groups) + 1] = 0.0 if std is None or math.isnan(std) else std
        out.append(values)
    return names, out


def failures(store: Store, suite: str | None = None) -> list[tuple]:
    where, params = _suite_filter(suite)
    return store.query(
        f"SELECT r.dataset, r.model_label, r.method_label, r.fold, r.seed, r.error FROM runs r "
        f"WHERE r.status = 'failed' {where} ORDER BY r.finished_at",
        params,
    )[1]


FLAT_SQL = """
    SELECT r.run_id, r.dataset, r.model, r.model_label, r.method, r.method_label, r.protocol,
           r.fold, r.seed, r.status, r.error, r.started_at, r.finished_at, r.device,
           r.harbench_version, r.torch_version, r.python_version, p.* EXCLUDE (run_id)
    FROM runs r LEFT JOIN (
        PIVOT (SELECT run_id, name, value FROM metrics) ON name USING first(value) GROUP BY run_id
    ) p ON p.run_id = r.run_id
"""


def flat(store: Store, suite: str | None = None) -> tuple[list[str], list[tuple]]:
    """One row per run with every metric as a column."""
    where, params = _suite_filter(suite)
    return store.query(
        f"{_flat_sql(store)} WHERE true {where} ORDER BY r.dataset, r.run_id", params
    )


def _flat_sql(store: Store) -> str:
    if store.query("SELECT count(*) FROM metrics")[1][0][0] > 0:
        return FLAT_SQL
    return FLAT_SQL.split(", p.*")[0] + " FROM runs r"


def export(store: Store, fmt: str, output: Path, *, suite: str | None = None) -> Path:
    """Write the flat results table as csv or parquet, or the leaderboard as markdown."""
    if fmt == "markdown":
        names, rows = leaderboard(store, suite=suite)
        output.write_text(markdown_table(names, rows))
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


def fmt_count(value: Any) -> str:
    """1234567 -> '1.23M', 4321 -> '4.32k'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.0f}"


def fmt_value(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return "-" if value is None else str(value)


def markdown_table(names: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(fmt_value(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
