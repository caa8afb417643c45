"""The flat results table (one row per run, every metric a column), failures, exports."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report.formatting import fmt_mean_std, fmt_number, fmt_p
from harbench.report.runs import flatten, suite_filter
from harbench.store import Store

RUN_FIELDS = ("run_id", "dataset", "model", "model_label", "method", "method_label", "protocol",
              "fold", "seed", "status", "error", "started_at", "finished_at", "device",
              "harbench_version", "torch_version", "python_version")
EXPORT_FORMATS = ("csv", "jsonl", "parquet", "markdown")
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet", "markdown": "md"}
FLAT_SQL = f"""
    SELECT {", ".join("r." + f for f in RUN_FIELDS)}, p.* EXCLUDE (run_id)
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
    # the PIVOT expands into several statements, which take no parameters: the name is quoted
    where = (f" AND r.run_id IN (SELECT run_id FROM suite_runs WHERE suite = {_quote(suite)})"
             if suite else "")
    return store.query(f"{_flat_sql(store)} WHERE true {where} ORDER BY r.dataset, r.run_id")


def _flat_sql(store: Store) -> str:
    if store.query("SELECT count(*) FROM metrics")[1][0][0] > 0:
        return FLAT_SQL
    return FLAT_SQL.split(", p.*")[0] + " FROM runs r"


def flat_with_config(store: Store, suite: str | None = None) -> tuple[list[str], list[list]]:
    """:func:`flat` with one column per key of each run's configuration, flattened
    (``method_params.r``, ``training.lr``, ``protocol.name``...), between the run's columns and
    its metrics; a key the run columns already hold (dataset, fold...) is not repeated."""
    columns, rows = flat(store, suite)
    where, params = suite_filter(suite)
    configs = {
        run_id: flatten(json.loads(text)) if text else {}
        for run_id, text in store.query(f"SELECT r.run_id, r.config FROM runs r WHERE true {where}",
                                        params)[1]
    }
    keys = sorted({k for config in configs.values() for k in config} - set(RUN_FIELDS))
    names = [f"config.{k}" if k in columns else k for k in keys]
    split = len(RUN_FIELDS)
    out = [list(row[:split]) + [configs.get(row[0], {}).get(k) for k in keys] + list(row[split:])
           for row in rows]
    return columns[:split] + names + columns[split:], out


def export(store: Store, fmt: str, output: Path, *, suite: str | None = None) -> Path:
    """Write one row per run (run columns, configuration keys, metrics) as csv, jsonl or
    parquet, or the leaderboard as markdown."""
    from harbench.report.leaderboard import build
    from harbench.report.suites import check_suite

    check_suite(store, suite)
    if fmt not in EXPORT_FORMATS:
        raise HarbenchError(f"unknown export format {fmt!r}: use {', '.join(EXPORT_FORMATS)}")
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "markdown":
        board = build(store, suite=suite)
        output.write_text(markdown_table(board.columns, board.as_lists(), metric=board.metric))
        return output
    columns, rows = flat_with_config(store, suite)
    if fmt == "csv":
        with output.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows([[_csv_value(v) for v in row] for row in rows])
    elif fmt == "jsonl":
        output.write_text(jsonl(columns, rows), encoding="utf-8")
    else:
        _write_parquet(columns, rows, output)
    return output


def jsonl(columns: list[str], rows: list[list]) -> str:
    """One JSON object per line (NaN as null, times in ISO 8601)."""
    return "".join(json.dumps({c: _json_value(v) for c, v in zip(columns, row)}) + "\n"
                   for row in rows)


def _write_parquet(columns: list[str], rows: list[list], output: Path) -> None:
    """Parquet through DuckDB's own JSON reader, which types each column from its values."""
    import duckdb

    staging = output.with_name(f".{output.name}.jsonl")
    staging.write_text(jsonl(columns, rows), encoding="utf-8")
    try:
        with duckdb.connect() as con:
            if rows:
                read = (f"read_json({_quote(str(staging))}, format = 'newline_delimited', "
                        "sample_size = -1)")
                types = con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()
                # a key no run sets a value for is typed NULL, which not every reader takes
                source = "(SELECT " + ", ".join(
                    f"{_ident(name)}::VARCHAR AS {_ident(name)}" if kind == '"NULL"'
                    else _ident(name) for name, kind, *_ in types) + f" FROM {read})"
            else:
                source = "(SELECT " + ", ".join(f"NULL::VARCHAR AS {_ident(c)}" for c in columns) \
                    + " LIMIT 0)"
            con.execute(f"COPY (SELECT * FROM {source}) TO {_quote(str(output))} "
                        "(FORMAT PARQUET)")
    finally:
        staging.unlink(missing_ok=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _csv_value(value: Any) -> Any:
    if value is None or isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return value


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def delimited(columns: list[str], rows: list[tuple], fmt: str) -> str:
    r"""Query results as text for programs: ``tsv`` (header line, tab-separated; backslash, tab,
    newline and other control characters written as escapes: ``\\``, ``\t``, ``\n``,
    ``\x1b``) or ``csv`` (RFC 4180 quoting; control characters other than newline escaped)."""
    from harbench.report.terminal import shown

    if fmt == "tsv":
        def field(value: Any) -> str:
            text = _text_value(value).replace("\\", "\\\\")
            return shown(text, newlines=False)

        lines = ["\t".join(field(c) for c in columns)]
        lines += ["\t".join(field(v) for v in row) for row in rows]
        return "\n".join(lines) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([shown(c) for c in columns])
    writer.writerows([[shown(_text_value(v)) for v in row] for row in rows])
    return buffer.getvalue()


def _text_value(value: Any) -> str:
    if value is None or isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


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
