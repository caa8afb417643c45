"""`harbench leaderboard`, `query` and `export`: views of the results store."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harbench import report
from harbench.store import Store


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    board = subparsers.add_parser("leaderboard", help="mean ± std per dataset x model x method")
    board.add_argument("--db")
    board.add_argument("--suite", help="only runs asked for by this suite (its name)")
    board.add_argument("--metric", default="macro_f1")
    board.add_argument(
        "--by",
        default="dataset,model,method",
        help="comma list of: dataset, model, method, protocol, fold, seed",
    )
    board.set_defaults(handler=cmd_leaderboard)

    query = subparsers.add_parser("query", help="run read-only SQL on the results store")
    query.add_argument("sql")
    query.add_argument("--db")
    query.set_defaults(handler=cmd_query)

    export = subparsers.add_parser("export", help="write results as csv, parquet or markdown")
    export.add_argument("--format", choices=("csv", "parquet", "markdown"), default="csv")
    export.add_argument("--output", "-o", help="output file (default results/harbench.<ext>)")
    export.add_argument("--suite")
    export.add_argument("--db")
    export.set_defaults(handler=cmd_export)


def print_leaderboard(
    console: Console,
    *,
    db: str | None = None,
    suite: str | None = None,
    metric: str = "macro_f1",
    by: str = "dataset,model,method",
) -> None:
    with Store(db, read_only=True) as store:
        names, rows = report.leaderboard(store, metric=metric, by=by, suite=suite)
        failed = report.failures(store, suite)
    title = f"leaderboard: {metric}, mean ± std over folds and seeds" + (
        f" (suite {suite})" if suite else ""
    )
    if not console.is_terminal:
        console.width = max(console.width, 120)
    table = Table(title=title, title_justify="left")
    n_groups = names.index(metric)
    for name in names[:n_groups]:
        table.add_column(name, no_wrap=True)
    for name in (metric, "n", "trainable", "share", "MACs", "fit s"):
        table.add_column(name, justify="right")
    for row in rows:
        groups, (mean, std, n, trainable, share, macs, fit_s) = row[:n_groups], row[n_groups:]
        table.add_row(
            *[str(g) for g in groups],
            f"{mean:.3f} ± {std:.3f}",
            str(n),
            report.fmt_count(trainable),
            f"{share:.1%}" if share is not None else "-",
            report.fmt_count(macs),
            report.fmt_value(fit_s),
        )
    console.print(table)
    if failed:
        console.print(
            f"[red]{len(failed)} failed run(s)[/]; see: harbench query "
            '"SELECT dataset, model_label, method_label, fold, error FROM runs '
            "WHERE status = 'failed'\""
        )


def cmd_leaderboard(args: argparse.Namespace) -> int:
    print_leaderboard(Console(), db=args.db, suite=args.suite, metric=args.metric, by=args.by)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    with Store(args.db, read_only=True) as store:
        columns, rows = store.query(args.sql)
    table = Table()
    for c in columns:
        table.add_column(c)
    for row in rows:
        table.add_row(*[report.fmt_value(v) for v in row])
    Console().print(table)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    ext = {"csv": "csv", "parquet": "parquet", "markdown": "md"}[args.format]
    output = Path(args.output or f"results/harbench.{ext}")
    with Store(args.db, read_only=True) as store:
        report.export(store, args.format, output, suite=args.suite)
    Console().print(f"wrote {output}")
    return 0
