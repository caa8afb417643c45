"""``harbench data``: list, describe, fetch, verify and prepare datasets."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from harbench import plugins
from harbench.contracts import DatasetPlugin, HarbenchError
from harbench.data.paths import data_root, dataset_root
from harbench.report.terminal import as_text, escaped, print_fitted
from harbench.report.terminal import console as make_console


def add_parsers(subparsers: Any) -> None:
    """Add the ``data`` command and its sub-commands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-root",
        default=None,
        help="folder holding one sub-folder per dataset (default: $HARBENCH_DATA, else the "
        "per-user cache)",
    )
    parser = subparsers.add_parser(
        "data", help="list, describe, fetch, verify and prepare datasets"
    )
    parser.set_defaults(handler=lambda args: _usage(parser))
    verbs = parser.add_subparsers(dest="data_command", metavar="COMMAND",
                                  help="what to do (each has its own --help)")

    p = verbs.add_parser("list", parents=[common], help="every registered dataset")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table (default; full names when piped) or json")
    p.set_defaults(handler=list_datasets)

    p = verbs.add_parser("info", parents=[common], help="everything declared about one dataset")
    p.add_argument("name")
    p.set_defaults(handler=info)

    p = verbs.add_parser("fetch", parents=[common], help="download and extract a dataset")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="fetch again even if present")
    p.add_argument(
        "--url",
        action="append",
        dest="urls",
        default=None,
        help="download from this URL (a mirror) instead; repeat for several",
    )
    p.set_defaults(handler=fetch)

    p = verbs.add_parser(
        "verify",
        parents=[common],
        help="check files, checksums, loading and completeness (exit 1 on any problem)",
    )
    p.add_argument("name")
    p.add_argument(
        "--subjects",
        default=None,
        help="comma-separated subject ids: only their files are required (e.g. 1,2,3)",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="accept fewer files, subjects or classes than declared (still listed); a loader "
        "that needs every file is checked on the subjects whose files are all present",
    )
    p.set_defaults(handler=verify)

    p = verbs.add_parser("prepare", parents=[common], help="window a dataset into the cache")
    p.add_argument("name")
    p.add_argument("--seconds", type=float, default=None, help="window length (default: dataset's)")
    p.add_argument("--step", type=float, default=None, help="window step (default: dataset's)")
    p.add_argument("--cache-dir", default=None, help="window cache (default: $HARBENCH_CACHE)")
    p.set_defaults(handler=prepare)


def _console() -> Console:
    return make_console()


class KeyValues:
    """A two-column table without header (a fact and its value), printed by the table rule."""

    def __init__(self, title: str):
        self.title = title
        self.rows: list[list[Any]] = []

    def add_row(self, key: str | Text, value: str | Text) -> None:
        self.rows.append([as_text(key, "bold") if isinstance(key, str) else key, value])

    def print(self, console: Console) -> None:
        print_fitted(console, ["check", "result"], self.rows, numeric=[False, False],
                     title=self.title, show_header=False)


def _usage(parser: argparse.ArgumentParser) -> int:
    _console().print(parser.format_help(), markup=False)
    return 2


def _present(plugin: DatasetPlugin, root: Path) -> str:
    if plugin.embedded:
        try:
            return "embedded" if plugin.is_present(root) else "not installed"
        except Exception:
            return "?"
    try:
        return "yes" if plugin.is_present(root) else "no"
    except Exception:  # a broken third-party plugin does not take the listing down
        return "?"


def _sensors(plugin: DatasetPlugin) -> str:
    kinds = list(dict.fromkeys(c.sensor for c in plugin.channels if c.sensor))
    return f"{len(plugin.channels)} ({', '.join(kinds)})" if kinds else str(len(plugin.channels))


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def list_datasets(args: argparse.Namespace) -> int:
    """``harbench data list``: one row per registered dataset."""
    registry = plugins.registry()
    root = data_root(args.data_root)
    if getattr(args, "format", "table") == "json":
        import json

        rows = [
            {"name": name, "channels": len(p.channels), "rate_hz": p.rate_hz,
             "subjects": len(p.subjects), "classes": list(p.classes),
             "present": _present(p, dataset_root(p, args.data_root))}
            for name, p in ((n, registry.get("datasets", n)) for n in registry.names("datasets"))
        ]
        print(json.dumps({"data_root": str(root), "datasets": rows}, indent=2))
        return 0
    rows = []
    for name in registry.names("datasets"):
        plugin = registry.get("datasets", name)
        rows.append([
            name,
            _sensors(plugin),
            _rate(plugin.rate_hz),
            str(len(plugin.subjects)),
            str(len(plugin.classes)),
            _present(plugin, dataset_root(plugin, args.data_root)),
        ])
    print_fitted(_console(), ["name", "channels", "Hz", "subjects", "classes", "present"], rows,
                 numeric=[False, False, True, True, True, False],
                 title=f"Datasets (data root: {root})")
    return 0


def info(args: argparse.Namespace) -> int:
    """``harbench data info NAME``: every declared fact, citation, licence, source, local state."""
    plugin = plugins.get("datasets", args.name)
    root = dataset_root(plugin, args.data_root)
    codes = plugin.label_codes or tuple(range(len(plugin.classes)))
    rows: list[tuple[str, str]] = [
        (
            "rate",
            f"{_rate(plugin.rate_hz)} Hz"
            + (
                f" (published at {_rate(plugin.native_rate_hz)} Hz)"
                if plugin.native_rate_hz
                else ""
            ),
        ),
        ("subjects", f"{len(plugin.subjects)}: {_ranges(plugin.subjects)}"),
        (
            "classes",
            "\n".join(
                f"{i}: {c} (code {code!r})"
                for i, (c, code) in enumerate(zip(plugin.classes, codes))
            ),
        ),
        ("window", f"{plugin.window_s:g} s, step {plugin.step_s:g} s"),
        ("protocol", ", ".join(f"{k}={v}" for k, v in plugin.protocol.items())),
        ("citation", plugin.citation or "-"),
        ("licence", plugin.licence or "-"),
        ("source", plugin.source_url or "-"),
        ("archives", "\n".join(plugin.archive_urls) or "none (manual download)"),
        ("sha256", "\n".join(f"{k}: {v}" for k, v in plugin.sha256.items()) or "-"),
        ("loader version", str(plugin.loader_version)),
        ("embedded", "yes" if plugin.embedded else "no"),
        ("local path", str(root)),
        ("present", _present(plugin, root)),
    ]
    console = _console()
    print_fitted(console, ["fact", "value"], [[as_text(k, "bold"), v] for k, v in rows],
                 numeric=[False, False], title=f"{plugin.name}: {plugin.title}",
                 show_header=False)
    print_fitted(console, ["#", "name", "sensor", "position", "unit"],
                 [[str(i), c.name, c.sensor, c.position, c.unit]
                  for i, c in enumerate(plugin.channels)],
                 numeric=[True, False, False, False, False], title="channels")
    return 0


def _ranges(values: tuple[int, ...]) -> str:
    """1, 2, 3, 5 -> '1-3, 5'."""
    items = sorted(set(values))
    parts: list[str] = []
    start = prev = None
    for v in items:
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = v
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(parts) or "-"


def fetch(args: argparse.Namespace) -> int:
    """``harbench data fetch NAME``: download with a progress bar, check, extract."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from harbench.data import fetch as fetching

    plugin = plugins.get("datasets", args.name)
    root = dataset_root(plugin, args.data_root)
    console = _console()
    if plugin.embedded and not args.urls:
        if not fetching.present(plugin, root):
            raise HarbenchError(
                f"dataset {plugin.name!r} ships with a package, not a download. "
                f"{plugin.fetch_instructions(root)}"
            )
        console.print(f"{escaped(plugin.name)} is embedded in an installed package: nothing to "
                      "fetch.")
        return 0
    if not args.force and fetching.present(plugin, root):
        console.print(f"{escaped(plugin.name)} is already present in {escaped(root)} (use --force "
                      "to fetch again).")
        return 0
    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:

        def progress(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        fetching.fetch(plugin, root, urls=args.urls, progress=progress, force=True)
    if fetching.present(plugin, root):
        console.print(f"{escaped(plugin.name)}: fetched into {escaped(root)}")
        return 0
    console.print(
        f"[yellow]{escaped(plugin.name)}: the archives were extracted into {escaped(root)}, but "
        f"the loader does not find its files there.[/yellow] "
        f"{escaped(plugin.fetch_instructions(root))}"
    )
    return 1


def verify(args: argparse.Namespace) -> int:
    """``harbench data verify NAME``: present, files, checksums, loads; exit 1 on any problem."""
    from harbench.data import fetch as fetching
    from harbench.data.completeness import complete_subjects
    from harbench.data.load import subject_subset

    plugin = plugins.get("datasets", args.name)
    root = dataset_root(plugin, args.data_root)
    subjects = subject_subset(plugin, _subject_list(args.subjects))
    console = _console()
    with console.status(f"verifying {escaped(plugin.name)}..."):
        report = fetching.verify(plugin, root, subjects)
        missing = report["missing"]
        if args.allow_partial and subjects is None and not report["loadable"] and missing:
            subjects = complete_subjects(plugin, root)  # the loader insists on every file
            if subjects:
                report = fetching.verify(plugin, root, subjects)
                report["missing"] = missing + report["missing"]
    table = KeyValues(f"verify {plugin.name}")
    table.add_row("local path", report["root"])
    table.add_row("present", "yes" if report["present"] else "no")
    if not report["embedded"]:
        table.add_row("files", f"{report['files']} ({report['bytes'] / 1e6:.1f} MB)")
    for archive in report["archives"]:
        state = {True: "ok", False: "MISMATCH", None: "no known digest"}[archive["ok"]]
        table.add_row(Path(archive["file"]).name, f"sha256 {archive['sha256']} ({state})")
    table.add_row("loads", "yes" if report["loadable"] else f"no: {report['error']}")
    if report["loadable"]:
        table.add_row("recordings", str(report["recordings"]))
        table.add_row("samples", f"{report['samples']} ({report['labelled']} labelled)")
        table.add_row("subjects", f"{report['subjects']} (declared {len(plugin.subjects)})")
        table.add_row("NaN left", str(report["nan"]))
        table.add_row("not finite in float32", str(report.get("not_finite_float32", 0)))
        if report["nan_filled"] is not None:
            table.add_row("NaN filled by the loader", str(report["nan_filled"]))
    if subjects is not None:
        label = "asked-for subjects" if args.subjects else "subjects with every file"
        table.add_row(label, _ranges(tuple(subjects)))
    partial = (Text("partial (accepted)", style="yellow") if args.allow_partial
               else Text("missing", style="red"))
    for missing in report["missing"]:
        table.add_row(partial, missing)
    for problem in report["problems"]:
        table.add_row("problem", as_text(problem, "red"))
    table.print(console)
    incomplete = bool(report["missing"]) and not args.allow_partial
    if incomplete and report["loadable"]:
        console.print(
            f"{escaped(plugin.name)} is incomplete in {escaped(root)}: fetch it again, or pass "
            "--allow-partial (or --subjects) if you mean to use part of it."
        )
    return 0 if report["loadable"] and not report["problems"] and not incomplete else 1


def _subject_list(text: str | None) -> list[int] | None:
    """'1,2,5-7' -> [1, 2, 5, 6, 7]; None stays None."""
    if text is None:
        return None
    subjects: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            low, _, high = part.partition("-")
            subjects += list(range(int(low), int(high or low) + 1))
        except ValueError:
            raise HarbenchError(
                f"--subjects {text!r}: expected comma-separated subject ids such as 1,2,5-7"
            ) from None
    return subjects


def prepare(args: argparse.Namespace) -> int:
    """``harbench data prepare NAME``: load and window into the cache; report count and time."""
    from harbench import load_windows

    plugin = plugins.get("datasets", args.name)
    console = _console()
    start = time.perf_counter()
    with console.status(f"preparing windows of {escaped(plugin.name)}..."):
        windows = load_windows(
            plugin.name,
            root=args.data_root,
            seconds=args.seconds,
            step=args.step,
            cache_dir=args.cache_dir,
        )
    seconds = time.perf_counter() - start
    shape = "x".join(str(s) for s in windows.X.shape)
    console.print(
        f"{escaped(plugin.name)}: {len(windows)} windows ({shape}), {len(windows.classes)} "
        f"classes, {len(set(windows.subject.tolist()))} subjects, in {seconds:.2f} s"
    )
    return 0
