"""`harbench plugins`: every plugin, its distribution and version, and what it registers."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from harbench import plugins


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plugins", help="list plugins and what they register")
    parser.set_defaults(handler=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = plugins.registry()
    table = Table(title="harbench plugins (entry-point group 'harbench')", title_justify="left")
    for col in ("plugin", "distribution", "version", "registers"):
        table.add_column(col)
    for reg in registry.registrations:
        what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in reg.items.items())
        table.add_row(reg.plugin, reg.distribution, reg.version, what or "(nothing)")
    for name, error in registry.failures.items():
        table.add_row(name, "", "", f"[red]failed: {error}[/]")
    Console().print(table)
    return 0
