"""Command-line entry point: argument parsing and output only; the work is done elsewhere."""

from __future__ import annotations

import argparse
import difflib
import sys
import warnings
from typing import Any

from harbench.contracts import HarbenchError

COMMAND_MODULES = ("run", "results", "plot", "report", "plugins", "models", "data", "scaffold",
                   "cache", "export_model", "site")


class CommandParser(argparse.ArgumentParser):
    """An argument parser that suggests what a typo meant (``leaderbord``, ``--metrc``) and
    reports an unknown option in the usage of the sub-command it was given to."""

    def __init__(self, *args: Any, top: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.top = top

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(c) for c in action.choices]
            close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r}{hint} (choose from {', '.join(choices)})")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and not self.top:  # a sub-command: its own usage and a suggestion
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggest(extras)}")
        return parsed, extras

    def _suggest(self, extras: list[str]) -> str:
        known = [o for o in self._option_string_actions if o.startswith("--")]
        hints = []
        for extra in extras:
            if extra.startswith("--"):
                hints += difflib.get_close_matches(extra.split("=")[0], known, n=1, cutoff=0.6)
        return f"; did you mean {' or '.join(hints)}?" if hints else ""

    def error(self, message: str) -> Any:
        from harbench.report.terminal import shown

        super().error(shown(message))


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    from harbench import __version__
    from harbench.commands.helptext import complete

    parser = CommandParser(
        prog="harbench",
        description="Benchmark how to adapt HAR models to new people, devices and datasets.",
        epilog="examples:\n  harbench run suites/quick.yaml\n  harbench leaderboard\n"
               "  harbench COMMAND --help",
        top=True,
    )
    parser.add_argument("--version", action="version", version=f"harbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=CommandParser,
                                       help="what to do (each has its own --help)")
    for name in COMMAND_MODULES:
        import_module(f"harbench.commands.{name}").add_parsers(subparsers)
    complete(parser)
    return parser


def _escape_warnings() -> None:
    """Warnings (a plugin that fails to load, ...) name things from outside: their control
    characters are shown escaped, like every other printed text."""
    from harbench.report.terminal import shown

    original = warnings.formatwarning
    if getattr(original, "escapes", False):
        return

    def formatwarning(message: Any, category: Any, filename: str, lineno: int,
                      line: str | None = None) -> str:
        return shown(original(message, category, filename, lineno, line))

    formatwarning.escapes = True  # type: ignore[attr-defined]
    warnings.formatwarning = formatwarning


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for bad input, 1 when a run failed)."""
    from harbench.report.terminal import shown

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    _escape_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except HarbenchError as exc:
        print(f"harbench: error: {shown(exc)}", file=sys.stderr)
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
