"""`harbench site -o DIR`: write the static leaderboard site of a store."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    site = subparsers.add_parser(
        "site", help="write a multi-page static site (every suite, dataset, method and run)")
    site.add_argument("--output", "-o", required=True, help="folder to write the site into")
    site.add_argument("--db")
    site.set_defaults(handler=cmd_site)


def cmd_site(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harbench.site.builder import build
    from harbench.store import Store

    with Store(args.db, read_only=True) as store:
        written = build(store, args.output)
    pages = sum(p.suffix == ".html" for p in written)
    Console(highlight=False).print(f"wrote {pages} pages and {len(written) - pages} files to "
                                   f"{args.output} (open index.html)", markup=False)
    return 0
