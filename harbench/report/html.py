"""One self-contained HTML report (no network needed): leaderboards, figures inlined as base64
PNG, the reproduction table, the environment and the suite's YAML."""

from __future__ import annotations

import base64
import html
import io
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.report import plots
from harbench.report.exports import cell_texts, display_names
from harbench.report.formatting import SHORT_HEADERS
from harbench.report.leaderboard import build
from harbench.report.reproduction import reproduction
from harbench.report.suites import check_suite, suite_names, suite_yaml
from harbench.store import Store
from harbench.tuning.summary import tuning_html

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f3f3f3; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
.note { color: #777; font-size: 0.9em; }
"""
FIGURES = (
    ("pareto", {"cost": "params"}, "macro-F1 against trainable parameters"),
    ("pareto", {"cost": "time"}, "macro-F1 against fit time"),
    ("sweep", {"param": "r"}, "macro-F1 against the LoRA rank"),
    ("cd", {}, "critical-difference diagram over datasets"),
    ("curves", {}, "learning curves"),
    ("confusion", {}, "confusion matrices"),
)


def png_data_uri(figure) -> str:
    """The figure as an inline ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plots.pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(columns: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(
            f"<td class='num'>{html.escape(v)}</td>" if n else f"<td>{html.escape(v)}</td>"
            for v, n in zip(row, numeric)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def speedup_html(store: Store, suite: str | None) -> str:
    """The speed-up to the common target per configuration, when a reference run exists."""
    board = build(store, suite=suite, metric="speedup_to_target")
    if not any(row["n"] for row in board.rows):
        return ""
    return ("<h2>Speed-up to a common target</h2><p class='note'>"
            + html.escape("; ".join(board.notes)) + ". Reference time / method time per "
            "comparison group, then averaged; not_reached counts runs that never reached the "
            "target.</p>" + leaderboard_html(store, suite, board))


def leaderboard_html(store: Store, suite: str | None, board=None) -> str:
    board = board or build(store, suite=suite)
    names = [c for c in board.columns if c != "dataset"]
    shown = display_names(names, board.metric)
    numeric = [c not in (*board.groups, "config") for c in shown]
    headers = [SHORT_HEADERS.get(c, c) for c in shown]
    parts = []
    for dataset in dict.fromkeys(r["dataset"] for r in board.rows):
        rows = [r for r in board.rows if r["dataset"] == dataset]
        texts = [cell_texts(names, [r.get(c) for c in names], board.metric) for r in rows]
        parts.append(f"<h3>{html.escape(dataset)}</h3>" + _table(headers, texts, numeric))
    return "".join(parts) or "<p class='note'>no ok run stored</p>"


def figures_html(store: Store, suite: str | None) -> str:
    parts = []
    for kind, options, caption in FIGURES:
        try:
            uri = png_data_uri(plots.figure(kind, store, suite, **options))
        except HarbenchError as exc:
            reason = html.escape(str(exc))
            parts.append(f"<p class='note'>{html.escape(caption)}: not drawn ({reason})</p>")
            continue
        parts.append(f"<figure><img alt='{html.escape(caption)}' src='{uri}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "".join(parts)


def reproduction_html(store: Store) -> str:
    rows = reproduction(store)
    if not rows:
        return ""
    columns = ["paper", "suite", "claim", "variant", "published", "measured", "interval",
               "units", "verdict", "proxy", "why it differs"]
    texts = [[r.paper, r.suite, r.claim, r.variant, r.published, r.measured, r.interval,
              f"{r.n_units} ({r.seeds})", f"{r.verdict}: {r.reason}", r.proxy,
              "; ".join(t for t in (r.why, r.note, r.also) if t)]
             for r in rows]
    numeric = [c in ("published", "measured", "units") for c in columns]
    return "<h2>Reproduction</h2>" + _table(columns, texts, numeric)


def environment_html(store: Store, suite: str | None) -> str:
    from harbench import __version__
    from harbench.report.runs import suite_filter

    where, params = suite_filter(suite)
    columns, rows = store.query(
        "SELECT harbench_version, torch_version, python_version, device, host, count(*) AS runs "
        f"FROM runs r WHERE true {where} GROUP BY ALL ORDER BY runs DESC", params)
    texts = [[("-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)) for v in row]
             for row in rows]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<h2>Environment</h2>"
        + _table(columns, texts, [c == "runs" for c in columns])
        + plugins_html(store, suite)
        + f"<p class='note'>report made {now} by harbench {html.escape(__version__)} on Python "
        f"{html.escape(platform.python_version())} ({html.escape(platform.platform())}); "
        f"store {html.escape(str(store.path))}</p>"
    )


def plugins_html(store: Store, suite: str | None) -> str:
    """Which distribution and version provided each plugin the runs used (runs.plugins)."""
    import json

    from harbench.report.runs import has_column, suite_filter

    if not has_column(store, "runs", "plugins"):
        return ""
    where, params = suite_filter(suite)
    _, rows = store.query(f"SELECT plugins, count(*) FROM runs r WHERE r.plugins IS NOT NULL "
                          f"{where} GROUP BY ALL", params)
    used: dict[tuple, int] = {}
    for text, count in rows:
        for kind, info in (json.loads(text) or {}).items():
            if isinstance(info, dict):
                key = (kind, str(info.get("name", "")), str(info.get("version", "")),
                       f"{info.get('distribution', '')} {info.get('distribution_version', '')}")
                used[key] = used.get(key, 0) + count
    if not used:
        return ""
    texts = [[*key, f"{n:,}"] for key, n in sorted(used.items())]
    columns = ["kind", "plugin", "plugin version", "distribution", "runs"]
    return _table(columns, texts, [c == "runs" for c in columns])


def yaml_html(store: Store, suite: str | None) -> str:
    names = [suite] if suite else suite_names(store)
    parts = []
    for name in names:
        text = suite_yaml(store, name)
        if text:
            parts.append(f"<h3>{html.escape(name)}</h3><pre>{html.escape(text)}</pre>")
    if not parts:
        return "<h2>Suite</h2><p class='note'>the store keeps no suite YAML</p>"
    return "<h2>Suite</h2>" + "".join(parts)


def render(store: Store, suite: str | None = None) -> str:
    """The whole report as one HTML document (of the only suite when the store holds one)."""
    check_suite(store, suite)
    names = suite_names(store)
    if suite is None and len(names) == 1:
        suite = names[0]
    title = f"harbench report: {suite}" if suite else "harbench report"
    sections: list[Any] = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Leaderboard</h2><p class='note'>macro-F1 mean ± std over folds and seeds, per "
        "dataset; one row per configuration</p>",
        leaderboard_html(store, suite),
        speedup_html(store, suite),
        tuning_html(store, suite),
        "<h2>Figures</h2>",
        figures_html(store, suite),
        reproduction_html(store),
        environment_html(store, suite),
        yaml_html(store, suite),
    ]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "".join(sections) + "</body></html>\n")


def write(store: Store, output: Path, suite: str | None = None) -> Path:
    """Write the report to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(store, suite), encoding="utf-8")
    return output
