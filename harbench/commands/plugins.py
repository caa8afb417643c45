"""`harbench plugins`: every plugin, its distribution and version, and what it registers."""

from __future__ import annotations

import argparse
import json

from harbench import plugins


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plugins", help="list plugins and what they register")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default; full names when piped) or json")
    parser.set_defaults(handler=cmd_plugins)


def plugins_record() -> dict:
    """Every registration and load failure as plain data (the JSON output)."""
    registry = plugins.registry()
    return {
        "plugins": [
            {"plugin": reg.plugin, "distribution": reg.distribution, "version": reg.version,
             "registers": {kind: list(names) for kind, names in reg.items.items()}}
            for reg in registry.registrations
        ],
        "failures": {name: str(error) for name, error in registry.failures.items()},
    }


def cmd_plugins(args: argparse.Namespace) -> int:
    record = plugins_record()
    if args.format == "json":
        print(json.dumps(record, indent=2))
        return 0
    from rich.text import Text

    from harbench.report.terminal import console, print_fitted, shown

    rows: list[list] = []
    for reg in record["plugins"]:
        what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in reg["registers"].items())
        rows.append([reg["plugin"], reg["distribution"], reg["version"], what or "(nothing)"])
    for name, error in record["failures"].items():
        rows.append([name, "", "", Text(f"failed: {shown(error)}", style="red")])
    print_fitted(console(), ["plugin", "distribution", "version", "registers"], rows,
                 numeric=[False, False, True, False],
                 title="harbench plugins (entry-point group 'harbench')")
    return 0
