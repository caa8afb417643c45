"""Command-line entry point: argument parsing and output only; the work is done elsewhere."""

from __future__ import annotations

import argparse
import sys
import warnings

from harbench.contracts import HarbenchError

COMMAND_MODULES = ("run", "results", "plot", "report", "plugins", "models", "data", "scaffold",
                   "export_model", "site")


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    from harbench import __version__

    parser = argparse.ArgumentParser(
        prog="harbench",
        description="Benchmark how to adapt HAR models to new people, devices and datasets.",
    )
    parser.add_argument("--version", action="version", version=f"harbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        import_module(f"harbench.commands.{name}").add_parsers(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for bad input, 1 when a run failed)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except HarbenchError as exc:
        print(f"harbench: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `harbench ... | head`: the reader left, nothing more to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            "harbench: interrupted; finished runs are stored, run again to resume", file=sys.stderr
        )
        return 130


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
