"""`harbench report`: the self-contained HTML report, or `report repro`: the reproduction table."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harbench.store import Store


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="HTML report of the store (or `report repro`: papers' claims vs measured)"
    )
    parser.add_argument("what", nargs="?", choices=("html", "repro"), default="html",
                        help="html (default): one self-contained HTML file; repro: the "
                        "reproduction table")
    parser.add_argument("--output", "-o",
                        help="html: output file (default results/report.html); repro: write "
                        "markdown here (e.g. results/REPRODUCTION.md)")
    parser.add_argument("--suite", help="html: only this suite's runs")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="repro: print the claims as a table or as JSON")
    parser.add_argument("--from", dest="snapshot", metavar="FOLDER",
                        help="repro: recompute the rows from a snapshot folder (`harbench export "
                        "--format snapshot`) instead of a store")
    parser.add_argument("--db")
    parser.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:

    console = Console(highlight=False)
    if args.what == "repro":
        return _repro(console, args)
    from harbench.report import html

    output = Path(args.output or "results/report.html")
    with Store(args.db, read_only=True) as store:
        html.write(store, output, args.suite)
    console.print(f"wrote {output}")
    return 0


def _repro(console, args: argparse.Namespace) -> int:
    from rich.table import Table

    from harbench.report.reproduction import markdown, reproduction

    if args.snapshot:
        rows, provenance = _from_snapshot(Path(args.snapshot))
    else:
        with Store(args.db, read_only=True) as store:
            rows = reproduction(store)
        provenance = ""
    if args.format == "json":
        import json
        from dataclasses import asdict

        print(json.dumps([asdict(r) for r in rows], indent=2, default=str))
        return 0
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(rows, provenance), encoding="utf-8")
        console.print(f"wrote {path}")
        return 0
    if not rows:
        console.print(markdown(rows))
        return 0
    table = Table(title="reproduction: published claim vs measured", title_justify="left")
    for col in ("paper", "claim", "variant", "published", "measured", "interval", "units",
                "verdict", "why"):
        justify = "right" if col in ("published", "measured", "units") else "left"
        table.add_column(col, justify=justify, overflow="fold",
                         no_wrap=justify == "right")
    for r in rows:
        why = "; ".join(t for t in (r.reason, r.why, r.note, r.proxy, r.also) if t)
        mark = "" if r.verdict == "agrees" else "[yellow]"
        table.add_row(r.paper, f"{mark}{r.claim}", r.variant, r.published, r.measured,
                      r.interval or "-", f"{r.n_units} ({r.seeds})", r.verdict, why)
    console.print(table)
    return 0


def _from_snapshot(folder: Path) -> tuple[list, str]:
    """The reproduction rows of a snapshot folder (loaded into a temporary store) and the
    markdown paragraph that says where they come from."""
    import tempfile

    from harbench import snapshot
    from harbench.report.reproduction import provenance, reproduction

    with tempfile.TemporaryDirectory(prefix="harbench-snapshot-") as tmp:
        store = snapshot.load(folder, Path(tmp) / "snapshot.duckdb")
        try:
            rows = reproduction(store)
            text = provenance(store, snapshot.read_manifest(folder), folder)
        finally:
            store.close()
    return rows, text
