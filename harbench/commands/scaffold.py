"""`harbench new-plugin NAME`: write a plugin package skeleton that passes harbench.testing."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new-plugin", help="write a plugin package skeleton (dataset, backbone, method, tests)"
    )
    parser.add_argument("name", help="plugin name, e.g. 'mylab' (package harbench_mylab)")
    parser.add_argument("-o", "--output", help="folder to create (default: ./harbench-NAME)")
    parser.set_defaults(handler=cmd_new_plugin)


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from harbench.scaffold import package_name, write_plugin

    dest = Path(args.output or f"harbench-{package_name(args.name).replace('_', '-')}")
    written = write_plugin(args.name, dest)
    print(f"wrote {len(written)} files to {dest}/")
    print(f"next: cd {dest} && pip install -e '.[test]' && pytest && harbench plugins")
    return 0
