"""`harbench cache verify|clear`: check every cache entry against its checksums, or remove them.

The cache (``HARBENCH_CACHE``, else ``~/.cache/harbench``) holds window arrays (``windows/``) and
pretraining checkpoints (``pretrain/``); both are rebuilt on demand. Raw dataset files
(``data/``) are never touched by these commands.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

KINDS = {"windows": "window", "pretrain": "pretraining checkpoint"}


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    cache = subparsers.add_parser(
        "cache", help="verify or clear the window and checkpoint cache",
        description="Check cached windows and pretraining checkpoints against their checksums, "
        "or remove them (they are rebuilt when needed). Raw dataset files are never touched.",
    )
    actions = cache.add_subparsers(dest="action", metavar="ACTION", required=True,
                                   help="verify: check every entry; clear: remove entries")
    verify = actions.add_parser("verify", help="check every entry; exit 1 when one is damaged")
    verify.add_argument("--remove-bad", action="store_true",
                        help="remove damaged entries (they are rebuilt on next use)")
    verify.add_argument("--cache", help="cache folder (default: HARBENCH_CACHE or ~/.cache)")
    verify.set_defaults(handler=cmd_verify)
    clear = actions.add_parser("clear", help="remove cached windows and/or checkpoints")
    clear.add_argument("what", nargs="?", choices=("all", *KINDS), default="all",
                       help="which part to remove (default: all; never raw data)")
    clear.add_argument("--cache", help="cache folder (default: HARBENCH_CACHE or ~/.cache)")
    clear.set_defaults(handler=cmd_clear)


def _root(args: argparse.Namespace) -> Path:
    from harbench.data.paths import default_cache_dir

    return Path(args.cache) if args.cache else default_cache_dir()


def entries(root: Path, kind: str) -> list[Path]:
    """The published entries of one part of the cache (temporary folders left out)."""
    folder = root / kind
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def cmd_verify(args: argparse.Namespace) -> int:
    from harbench import checksums
    from harbench.data.cache import FILES
    from harbench.pretrain import CHECKPOINT_FILES

    required = {"windows": FILES, "pretrain": CHECKPOINT_FILES}
    root = _root(args)
    checked = bad = 0
    for kind, label in KINDS.items():
        for entry in entries(root, kind):
            checked += 1
            found = checksums.problems(entry, required[kind])
            if not found:
                continue
            bad += 1
            print(f"damaged {label} entry {entry}:")
            for problem in found:
                print(f"  {problem}")
            if args.remove_bad:
                checksums.discard(entry)
                print("  removed (rebuilt on next use)")
    print(f"{checked} cache entries checked in {root}, {bad} damaged")
    return 1 if bad and not args.remove_bad else 0


def cmd_clear(args: argparse.Namespace) -> int:
    root = _root(args)
    kinds = list(KINDS) if args.what == "all" else [args.what]
    removed = 0
    for kind in kinds:
        for entry in entries(root, kind):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    print(f"removed {removed} cache entries ({', '.join(kinds)}) from {root}")
    return 0
