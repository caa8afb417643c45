"""`harbench leaderboard`, `query`, `export` and `show`: views of the results store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError
from harbench.store import Store

QUERY_FORMATS = ("table", "tsv", "csv", "json")
EXPORT_FORMATS = ("csv", "jsonl", "parquet", "markdown", "snapshot")  # exports checks the first 4

if TYPE_CHECKING:  # the report package is imported on use: the CLI starts fast
    from rich.console import Console

    from harbench.report.leaderboard import Board


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """--reference / --target-fraction / --target-f1 (common time-to-target)."""
    parser.add_argument("--reference", help="reference method of the common time-to-target "
                        "(default: the suite's compare.reference, else full)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--target-fraction", type=float,
                       help="target = this fraction of the reference's best validation F1 "
                       "(default 0.95)")
    group.add_argument("--target-f1", type=float, help="absolute validation macro-F1 target")


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    board = subparsers.add_parser("leaderboard", help="mean ± std per dataset x model x method "
                                  "x configuration")
    board.add_argument("--db")
    board.add_argument("--suite", help="only runs asked for by this suite (its name)")
    board.add_argument("--metric", default="macro_f1",
                       help="a stored metric, or a computed one: speedup_to_target, "
                       "time_to_common_target_s, epochs_to_common_target")
    board.add_argument(
        "--by",
        default="dataset,model,method",
        help="comma list of: dataset, model, method, protocol, fold, seed (every other setting "
        "that varies is kept apart in the 'config' column)",
    )
    board.add_argument("--ci", action="store_true", help="add the 95%% confidence interval")
    board.add_argument("--against", metavar="METHOD",
                       help="paired comparison of every row with this method over units "
                       "(dataset × fold, seeds averaged)")
    board.add_argument("--test", choices=("wilcoxon", "ttest"), default="wilcoxon",
                       help="paired test for --against (default wilcoxon signed-rank)")
    add_target_options(board)
    board.add_argument("--format", choices=("table", "json"), default="table",
                       help="table (default; fits the terminal, full names when piped) or json")
    board.set_defaults(handler=cmd_leaderboard)

    query = subparsers.add_parser(
        "query", help="run read-only SQL on the results store",
        description="Read-only SQL on the store (tables runs, metrics, curves, details, suites, "
        "suite_runs). A terminal gets a table; piped output is tab-separated (TSV).")
    query.add_argument("sql", help="one SQL statement (DuckDB dialect), e.g. \"SELECT * FROM "
                       "runs LIMIT 5\"")
    query.add_argument("--db")
    query.add_argument("--format", choices=QUERY_FORMATS, default=None,
                       help="table (default on a terminal), tsv (default when piped: header "
                       "line, tab-separated, \\t \\n \\\\ escaped), csv, or json (a list of "
                       "objects)")
    query.set_defaults(handler=cmd_query)

    export = subparsers.add_parser(
        "export", help="write results as csv, jsonl, parquet, markdown or a snapshot",
        description="One row per run: its identity, one column per configuration key (e.g. "
        "method_params.r, training.lr) and one per metric; markdown writes the leaderboard; "
        "snapshot writes a folder of parquet tables (runs, metrics, curves, details, trials) "
        "with a checksummed manifest, from which `harbench report repro --from FOLDER` "
        "recomputes the reproduction rows.")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="csv",
                        help="csv (default), jsonl (one JSON object per line), parquet, "
                        "markdown (the leaderboard), or snapshot (a folder; needs --suite)")
    export.add_argument("--output", "-o", help="output file (default results/harbench.<ext>; "
                        "snapshot: a folder, default results/snapshot)")
    export.add_argument("--suite", action="append",
                        help="only this suite's runs (snapshot: repeat for several)")
    export.add_argument("--db")
    export.add_argument("--to", choices=("file", "mlflow"), default="file",
                        help="mlflow: log every run to an MLflow tracking store instead of a file")
    export.add_argument("--tracking-uri", help="with --to mlflow: tracking URI or local folder "
                        "(default: MLFLOW_TRACKING_URI, else ./mlruns)")
    export.add_argument("--experiment", default="harbench",
                        help="with --to mlflow: experiment name (default harbench)")
    export.set_defaults(handler=cmd_export)

    load = subparsers.add_parser(
        "import", help="load a snapshot folder (export --format snapshot) into a new store",
        description="The inverse of `harbench export --format snapshot`: every file's sha256 in "
        "the folder's manifest is checked first, nothing in the folder is executed, and the "
        "store must not exist yet (a snapshot never merges into stored results). Leaderboard, "
        "report, validate and run (which resumes the suites' missing runs) then work on it.")
    load.add_argument("folder", help="the snapshot folder (holding manifest.json)")
    load.add_argument("--db", help="the new DuckDB file to create (default: $HARBENCH_DB, "
                      "else results/harbench.duckdb); refused when it exists")
    load.set_defaults(handler=cmd_import)

    show = subparsers.add_parser("show", help="everything stored about one run (id or prefix)")
    show.add_argument("run", help="full run id or a unique prefix")
    show.add_argument("--db")
    show.add_argument("--format", choices=("table", "json"), default="table",
                      help="table (default) or json (every stored field)")
    show.set_defaults(handler=cmd_show)


def target_setting(store: Store, args: argparse.Namespace):
    """The common-target setting from the options and the suite's compare block."""
    from harbench.report.suites import compare_settings
    from harbench.report.targets import TargetSetting

    return TargetSetting.from_options(
        getattr(args, "reference", None), getattr(args, "target_fraction", None),
        getattr(args, "target_f1", None), compare_settings(store, getattr(args, "suite", None)))


def print_leaderboard(
    console: Console,
    *,
    db: str | None = None,
    suite: str | None = None,
    metric: str = "macro_f1",
    by: str = "dataset,model,method",
    args: argparse.Namespace | None = None,
) -> None:
    """Render the leaderboard (and the failed-run count) on ``console``."""
    from harbench import report
    from harbench.report.exports import cell_texts, display_names
    from harbench.report.formatting import SHORT_HEADERS
    from harbench.report.terminal import escaped, fit_table, fits, print_fitted

    options: dict[str, Any] = {}
    with Store(db, read_only=True) as store:
        if args is not None:
            options = {"ci": args.ci, "against": args.against, "test": args.test,
                       "target": target_setting(store, args)}
        board = report.build(store, metric=metric, by=by, suite=suite, **options)
        failed = report.failures(store, suite)
    title = f"leaderboard: {metric}, mean ± std over units (seeds averaged)" + (
        f" (suite {suite})" if suite else ""
    )
    columns, rows = board.columns, board.as_lists()
    constant = [g for g in board.groups if len({str(r[columns.index(g)]) for r in rows}) == 1
                and g != "dataset" and len(rows) > 1]
    if constant and console.is_terminal:
        title += " · " + ", ".join(f"{g} {rows[0][columns.index(g)]}" for g in constant)
        keep = [i for i, c in enumerate(columns) if c not in constant]
        columns, rows = [columns[i] for i in keep], [[r[i] for i in keep] for r in rows]
    shown = display_names(columns, metric)
    headers = [SHORT_HEADERS.get(h, h) for h in shown]
    texts = [cell_texts(columns, row, metric) for row in rows]
    numeric = [h not in (*board.groups, "config") for h in shown]
    droppable = ["trainable", "pairs", "fit s", "share", "MACs", "peak MB", "setup s"]
    kept = [i for i, h in enumerate(headers) if h not in droppable]
    if "dataset" in headers and not fits(console, [headers[i] for i in kept],
                                         [[t[i] for i in kept] for t in texts],
                                         [numeric[i] for i in kept]):
        at = headers.index("dataset")  # too wide even without costs: one table per dataset
        rest = [i for i in range(len(headers)) if i != at]
        dropped: list[str] = []
        for dataset in dict.fromkeys(t[at] for t in texts):
            dropped = print_fitted(
                console, [headers[i] for i in rest],
                [[t[i] for i in rest] for t in texts if t[at] == dataset],
                numeric=[numeric[i] for i in rest], droppable=droppable,
                title=f"{title} · dataset {dataset}")
    else:
        table, dropped = fit_table(console, headers, texts, numeric=numeric,
                                   droppable=droppable, title=title)
        console.print(table)
    for note in board.notes:
        console.print(f"[dim]{escaped(note)}[/]")
    if dropped:
        console.print(f"[dim]columns left out to fit the terminal: {escaped(', '.join(dropped))} "
                      "(pipe the output or use --format json for all)[/]")
    if failed:
        console.print(
            f"[red]{len(failed)} failed run(s)[/]; see: harbench query "
            '"SELECT run_id, dataset, model_label, method_label, fold, error FROM runs '
            "WHERE status = 'failed'\""
        )


def leaderboard_json(board: Board) -> str:
    """The leaderboard as JSON: {metric, columns, rows: [{column: value}], notes}."""
    from harbench.report.formatting import json_ready

    rows = [{c: json_ready(row.get(c)) for c in board.columns} for row in board.rows]
    return json.dumps({"metric": board.metric, "columns": board.columns, "rows": rows,
                       "notes": board.notes}, indent=2)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from harbench import report
    from harbench.report.terminal import console

    if args.format == "json":
        with Store(args.db, read_only=True) as store:
            board = report.build(store, metric=args.metric, by=args.by, suite=args.suite,
                                 ci=args.ci, against=args.against, test=args.test,
                                 target=target_setting(store, args))
        print(leaderboard_json(board))
        return 0
    print_leaderboard(console(), db=args.db, suite=args.suite, metric=args.metric, by=args.by,
                      args=args)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from harbench.report.exports import delimited
    from harbench.report.formatting import fmt_number, json_ready
    from harbench.report.terminal import console as make_console
    from harbench.report.terminal import print_fitted

    with Store(args.db, sandbox=True) as store:  # reads the store and nothing else
        columns, rows = store.query(args.sql)
    console = make_console()
    fmt = args.format or ("table" if console.is_terminal else "tsv")
    if fmt == "json":
        print(json.dumps([{c: json_ready(v) for c, v in zip(columns, row)} for row in rows],
                         indent=2, default=str))
        return 0
    if fmt in ("tsv", "csv"):
        sys.stdout.write(delimited(columns, rows, fmt))
        return 0
    texts = [[fmt_number(c, v) for c, v in zip(columns, row)] for row in rows]
    numeric = [all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(columns))]
    print_fitted(console, columns, texts, numeric=numeric,
                 whole=[c for c in columns if c.endswith("_id")])  # ids never wrap
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from harbench import report
    from harbench.report.exports import EXTENSIONS
    from harbench.report.terminal import console, escaped

    if args.to == "mlflow":
        return export_mlflow(args)
    if args.format == "snapshot":
        return export_snapshot(args)
    if args.suite and len(args.suite) > 1:
        raise HarbenchError("--suite names one suite (several only with --format snapshot)")
    output = Path(args.output or f"results/harbench.{EXTENSIONS[args.format]}")
    with Store(args.db, read_only=True) as store:
        report.export(store, args.format, output, suite=(args.suite or [None])[0])
    console().print(f"wrote {escaped(output)}")
    return 0


def export_snapshot(args: argparse.Namespace) -> int:
    from harbench import snapshot
    from harbench.report.terminal import console, escaped

    folder = Path(args.output or "results/snapshot")
    with Store(args.db, read_only=True) as store:
        manifest = snapshot.write(store, args.suite or [], folder)
    rows = manifest["tables"]["runs"]["rows"]
    console().print(f"wrote {escaped(folder)}: {rows} runs of {len(manifest['suites'])} suites")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    import json

    from harbench import snapshot
    from harbench.report.terminal import console, escaped
    from harbench.store import default_db

    db = Path(default_db(args.db))
    snapshot.load(Path(args.folder), db).close()  # checks the manifest and every checksum
    manifest = json.loads((Path(args.folder) / snapshot.MANIFEST).read_text(encoding="utf-8"))
    rows = manifest["tables"]["runs"]["rows"]
    console().print(
        f"loaded {rows} runs of {', '.join(manifest['suites'])} into {escaped(db)} (exported by "
        f"commit {manifest.get('exported_by_commit') or 'unknown'}); `harbench validate SUITE.yaml "
        f"--db {escaped(db)}` says which of them this code would recompute")
    return 0


def export_mlflow(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harbench.report import mlflow_export

    with Store(args.db, read_only=True) as store:
        counts, uri = mlflow_export.export(store, args.tracking_uri, experiment=args.experiment,
                                           suite=args.suite)
    Console(highlight=False).print(
        f"mlflow {uri}, experiment {args.experiment}: {counts.logged} run(s) logged, "
        f"{counts.skipped} already there" + (f", {counts.replaced} unfinished replaced"
                                             if counts.replaced else ""), markup=False)
    return 0


def find_run(store: Store, text: str) -> str:
    """The full run id that ``text`` is or starts; a clear error if none or several."""
    if not text or any(c not in "0123456789abcdef" for c in text.lower()):
        raise HarbenchError(f"run {text!r}: a run id is hexadecimal (see `harbench query`)")
    ids = [r[0] for r in store.query(
        "SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id", [text.lower()])[1]]
    if not ids:
        raise HarbenchError(f"run {text!r}: no stored run id starts with it in {store.path}")
    if len(ids) > 1:
        raise HarbenchError(f"run {text!r} is ambiguous: {len(ids)} runs start with it "
                            f"({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}); "
                            "give more characters")
    return ids[0]


def run_record(store: Store, run_id: str) -> dict[str, Any]:
    """Everything stored about one run: its row, configuration, plugin versions, metrics, every
    curve row, details (classes, per-class F1, confusion, test/validation/pretraining subjects...)
    and the suites that asked for it."""
    from harbench.report.runs import load_curves

    columns, rows = store.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
    record: dict[str, Any] = dict(zip(columns, rows[0]))
    for key in ("config", "plugins"):
        record[key] = json.loads(record[key]) if record.get(key) else None
    record["metrics"] = dict(store.query(
        "SELECT name, value FROM metrics WHERE run_id = ? ORDER BY name", [run_id])[1])
    record["curves"] = load_curves(store, [run_id]).get(run_id, [])
    record["details"] = None
    found = store.query("SELECT classes, per_class_f1, confusion, extra FROM details "
                        "WHERE run_id = ?", [run_id])[1]
    if found:
        classes, per_class, confusion, extra = (json.loads(v) if v else None for v in found[0])
        record["details"] = {"classes": classes, "per_class_f1": per_class,
                             "confusion": confusion, **(extra if isinstance(extra, dict) else {})}
    record["suites"] = [r[0] for r in store.query(
        "SELECT suite FROM suite_runs WHERE run_id = ? ORDER BY suite", [run_id])[1]]
    return record


SHOWN_FIRST = ("run_id", "status", "error", "dataset", "model", "model_label", "method",
               "method_label", "protocol", "fold", "seed", "device", "host", "started_at",
               "finished_at", "harbench_version", "torch_version", "python_version")


def _detail_text(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return "-" if value is None else str(value)


def _lr(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}"


def _print_per_class(console: Console, classes: list, per_class: list, confusion: list) -> None:
    """F1, support and the confusion row of each class; the predicted columns are named by class,
    or by number where the names do not fit the terminal."""
    from harbench.report.formatting import fmt_number
    from harbench.report.terminal import fits, print_fitted

    rows = []
    for i, name in enumerate(classes):
        counts = list(confusion[i]) if i < len(confusion) else []
        rows.append([str(i), name, fmt_number("f1", per_class[i]) if i < len(per_class) else "-",
                     fmt_number("n", sum(counts)) if counts else "-",
                     *[fmt_number("n", v) for v in counts]])
        rows[-1] += ["-"] * (4 + len(classes) - len(rows[-1]))
    numeric = [True, False] + [True] * (2 + len(classes))
    headers = ["#", "class", "F1", "support", *[f"→{c}" for c in classes]]
    if not fits(console, headers, rows, numeric):
        headers = headers[:4] + [f"→{i}" for i in range(len(classes))]
    print_fitted(console, headers, rows, numeric=numeric,
                 title="per class on the test subjects (rows: true class; →: predicted as)")


def cmd_show(args: argparse.Namespace) -> int:
    from harbench.artifacts import listing
    from harbench.report.formatting import fmt_number
    from harbench.report.runs import flatten
    from harbench.report.terminal import as_text, print_fitted
    from harbench.report.terminal import console as make_console

    with Store(args.db, read_only=True) as store:
        record = run_record(store, find_run(store, args.run))
        record["artifacts"] = listing.listing(store, record["run_id"])
        kept = listing.lines(store, record["run_id"])
    if args.format == "json":
        print(json.dumps(record, indent=2, default=str))
        return 0
    console = make_console()

    def pairs(title: str, items: list[tuple[str, str]], headers=("field", "value"),
              numbers: bool = False) -> None:
        if items:
            print_fitted(console, list(headers), [list(i) for i in items],
                         numeric=[False, numbers], title=title)

    nested = ("config", "plugins", "metrics", "curves", "details", "suites")
    fields = [k for k in SHOWN_FIRST if k in record] + sorted(
        k for k in record if k not in SHOWN_FIRST and k not in nested)
    run = [(k, _detail_text(record[k])) for k in fields if k != "error" or record[k]]
    run.append(("suites", ", ".join(record["suites"]) or "-"))
    pairs(f"run {record['run_id']}", run)
    pairs("configuration", [(k, _detail_text(v)) for k, v in
                            flatten(record["config"] or {}).items()], ("key", "value"))
    pairs("plugins", [(k, _detail_text(v)) for k, v in flatten(record["plugins"] or {}).items()],
          ("plugin", "version"))
    pairs("metrics", [(k, fmt_number(k, v)) for k, v in record["metrics"].items()],
          ("metric", "value"), numbers=True)
    details = dict(record["details"] or {})
    classes = details.pop("classes", None) or []
    per_class = details.pop("per_class_f1", None) or []
    confusion = details.pop("confusion", None) or []
    pairs("details", [(k, _detail_text(v)) for k, v in details.items()])
    if classes:
        _print_per_class(console, classes, per_class, confusion)
    if record["curves"]:
        names = ["stage", "epoch", "train_loss", "val_loss", "val_f1", "lr", "seconds"]
        rows = [[str(row["stage"]), *[_lr(row.get(n)) if n == "lr" else fmt_number(n, row.get(n))
                                      for n in names[1:]]] for row in record["curves"]]
        print_fitted(console, names, rows, numeric=[False] + [True] * 6, title="curves")
    else:
        console.print("curves: none stored")
    console.print("[bold]artefacts and energy[/]")
    for line in kept:
        console.print(as_text(line))
    return 0
