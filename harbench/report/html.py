"""One self-contained HTML report (no network needed): a table of contents, sortable leaderboards
(protocol column, source F1 before adaptation beside macro-F1), figures inlined as SVG with the
CSV of the numbers each draws, the reproduction table, the environment and the suite's YAML."""

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
from harbench.report.leaderboard import BEFORE_METRICS, build
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
.warning { color: #b00000; font-weight: bold; }
th.sortable { cursor: pointer; } th.sortable::after { content: " \\2195"; color: #aaa; }
th[aria-sort=ascending]::after { content: " \\25B2"; color: #222; }
th[aria-sort=descending]::after { content: " \\25BC"; color: #222; }
nav.toc { background: #f7f7f7; padding: 0.5em 1em; } nav.toc li { margin: 0.1em 0; }
"""
# Click a header to sort its table (numbers by their data-v value, text otherwise); no network.
SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.classList.add('sortable');
    th.addEventListener('click', function () {
      var up = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      var body = table.tBodies[0], rows = Array.from(body.rows);
      function key(row) {
        var cell = row.cells[column], v = cell.getAttribute('data-v');
        return v === null ? cell.textContent : (v === '' ? null : parseFloat(v));
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return (x === null) - (y === null); }
        var order = typeof x === 'number' && typeof y === 'number' ? x - y
          : String(x).localeCompare(String(y));
        return up ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
BY = "dataset,protocol,model,method"  # the report's leaderboard always shows the protocol
HEADER_TITLES = {"source_macro_f1": "macro-F1 of the source model on the target's test data, "
                 "before adaptation (runs whose pretraining kept the head)",
                 "forgetting": "macro-F1 points lost by the adapted (merged) model on source "
                 "subjects held out of pretraining, against the source model (positive: forgot)",
                 "protocol": "evaluation protocol (how subjects are split)"}
FIGURES = (
    ("pareto", {"cost": "params"}, "macro-F1 against trainable parameters"),
    ("pareto", {"cost": "memory"}, "macro-F1 against measured training memory"),
    ("pareto", {"cost": "time"}, "macro-F1 against fit time"),
    ("sweep", {"param": "r"}, "macro-F1 against the LoRA rank"),
    ("cd", {}, "critical-difference diagram over datasets"),
    ("curves", {}, "learning curves"),
    ("confusion", {}, "confusion matrices"),
)


def svg_data_uri(figure) -> str:
    """The figure as an inline ``data:image/svg+xml;base64,...`` URI (vector, scales sharply)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plots.pyplot().close(figure)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_data_uri(figure) -> str:
    """The figure as an inline ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plots.pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def csv_data_uri(text: str) -> str:
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(
        text.encode("utf-8")).decode("ascii")


def _table(columns: list[str], rows: list[list[str]], numeric: list[bool],
           values: list[list[Any]] | None = None, titles: dict[str, str] | None = None) -> str:
    """A sortable table; ``values`` (raw numbers per cell) sort numeric columns exactly."""
    titles = titles or {}
    head = "".join(
        f"<th title='{html.escape(titles[c])}'>{html.escape(c)}</th>" if c in titles
        else f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r, row in enumerate(rows):
        cells = []
        for c, (v, n) in enumerate(zip(row, numeric)):
            if not n:
                cells.append(f"<td>{html.escape(v)}</td>")
                continue
            raw = values[r][c] if values is not None else _number(v)
            key = "" if raw is None or raw != raw else repr(float(raw))
            cells.append(f"<td class='num' data-v='{key}'>{html.escape(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table class='sortable'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _number(text: str) -> float | None:
    """The leading number of a cell's text ("0.81 ± 0.02", "1,500"), None for "-"."""
    import re

    found = re.match(r"\s*([-+]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?)", text)
    return float(found[1].replace(",", "")) if found else None


def speedup_html(store: Store, suite: str | None) -> str:
    """The speed-up to the common target per configuration, when a reference run exists."""
    board = build(store, suite=suite, metric="speedup_to_target", by=BY)
    if not any(row["n"] for row in board.rows):
        return ""
    return ("<h2>Speed-up to a common target</h2><p class='note'>"
            + html.escape("; ".join(board.notes)) + ". Reference time / method time per "
            "comparison group, then averaged; not_reached counts runs that never reached the "
            "target.</p>" + leaderboard_html(store, suite, board))


def leaderboard_html(store: Store, suite: str | None, board=None) -> str:
    board = board or build(store, suite=suite, by=BY)
    names = [c for c in board.columns if c != "dataset"]
    before = BEFORE_METRICS.get(board.metric)
    if before and before not in names and "n" in names:  # shown, empty, where none was stored
        names.insert(names.index("seeds" if "seeds" in names else "n") + 1, before)
    shown = display_names(names, board.metric)
    numeric = [c not in (*board.groups, "config") for c in shown]
    headers = [SHORT_HEADERS.get(c, c) for c in shown]
    parts = []
    for dataset in dict.fromkeys(r["dataset"] for r in board.rows):
        rows = [r for r in board.rows if r["dataset"] == dataset]
        texts = [cell_texts(names, [r.get(c) for c in names], board.metric) for r in rows]
        values = [_raw_cells(names, shown, r) for r in rows]
        parts.append(f"<h3>{html.escape(dataset)}</h3>"
                     + _table(headers, texts, numeric, values, HEADER_TITLES))
    return "".join(parts) or "<p class='note'>no ok run stored</p>"


def _raw_cells(names: list[str], shown: list[str], row: dict[str, Any]) -> list[Any]:
    """The raw value behind each shown cell (the mean for 'mean ± std', the low end of a CI)."""
    out = []
    for name in shown:
        column = "ci_low" if name == "95% CI" else name
        value = row.get(column) if column in names else None
        out.append(value if isinstance(value, (int, float)) else None)
    return out


def figures_html(store: Store, suite: str | None) -> str:
    """Each figure as an inline SVG with its data as a downloadable CSV (a data: link)."""
    parts = []
    for kind, options, caption in FIGURES:
        for facet_options, facet_caption in _figure_facets(store, suite, kind, caption):
            parts.append(_figure_html(store, suite, kind, {**options, **facet_options},
                                      facet_caption))
    return "".join(parts)


def _figure_facets(store: Store, suite: str | None, kind: str, caption: str
                   ) -> list[tuple[dict[str, Any], str]]:
    """Confusion matrices one figure per dataset (a readable number of panels), the CD diagram
    one per protocol (it ranks across datasets under one protocol); other figures whole."""
    if kind not in ("confusion", "cd"):
        return [({}, caption)]
    from harbench.report.runs import load_runs

    runs = load_runs(store, suite)
    if kind == "cd":
        protocols = sorted({r.protocol for r in runs})
        if len(protocols) < 2:
            return [({}, caption)]
        return [({"protocol": p}, f"{caption}: {p}") for p in protocols]
    datasets = sorted({r.dataset for r in runs})
    return [({"dataset": d}, f"{caption}: {d}") for d in datasets] or [({}, caption)]


def _figure_html(store: Store, suite: str | None, kind: str, options: dict[str, Any],
                 caption: str) -> str:
    try:
        figure = plots.figure(kind, store, suite, **options)
    except HarbenchError as exc:
        reason = html.escape(str(exc))
        return f"<p class='note'>{html.escape(caption)}: not drawn ({reason})</p>"
    rows, warnings = plots.figure_data(figure), plots.figure_warnings(figure)
    uri = svg_data_uri(figure)
    name = "_".join([kind, *(str(v) for v in options.values())]).replace("/", "-") + ".csv"
    link = (f" <a download='{html.escape(name)}' href='{csv_data_uri(plots.csv_text(rows))}'>"
            f"data ({len(rows)} rows, CSV)</a>" if rows else "")
    warning = "".join(f"<br><span class='warning'>WARNING: {html.escape(w)}</span>"
                      for w in warnings)
    return (f"<h3>{html.escape(caption)}</h3><figure><img alt='{html.escape(caption)}' src='{uri}'>"
            f"<figcaption>{html.escape(caption)}.{link}{warning}</figcaption></figure>")


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
        "<h2>Leaderboard</h2><p class='note'>macro-F1 mean ± std over units (dataset × fold, "
        "seeds averaged first), per "
        "dataset and protocol; one row per configuration; source_macro_f1: the source model on "
        "the same test data before adaptation (- where no run kept a pretrained head); "
        "forgetting: macro-F1 points the adapted model lost on source subjects held out of "
        "pretraining (subject_adaptation); peak MB: "
        "measured training memory (GPU: torch's peak allocated; CPU: the heap's peak bytes in "
        "use during training over its start, train_peak_heap_mb). Click a header to sort.</p>",
        leaderboard_html(store, suite),
        speedup_html(store, suite),
        tuning_html(store, suite),
        "<h2>Figures</h2><p class='note'>one mark per configuration; each figure's numbers are "
        "linked beneath it as CSV.</p>",
        figures_html(store, suite),
        reproduction_html(store),
        environment_html(store, suite),
        yaml_html(store, suite),
    ]
    body, toc = _with_anchors("".join(sections))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{toc}{body}<script>{SORT_SCRIPT}</script>"
            "</body></html>\n")


def _with_anchors(body: str) -> tuple[str, str]:
    """Give every h2/h3 an id and build the nested table of contents linking to them."""
    import re

    items: list[tuple[int, str, str]] = []

    def anchor(match) -> str:
        level, text = int(match[1]), match[2]
        ident = f"s{len(items) + 1}"
        items.append((level, ident, text))
        return f"<h{level} id='{ident}'>{text}</h{level}>"

    body = re.sub(r"<h([23])>(.*?)</h\1>", anchor, body)
    lines, open_sub = ["<nav class='toc'><strong>Contents</strong><ul>"], False
    for level, ident, text in items:
        if level == 3 and not open_sub:
            lines.append("<ul>")
            open_sub = True
        elif level == 2 and open_sub:
            lines.append("</ul>")
            open_sub = False
        lines.append(f"<li><a href='#{ident}'>{text}</a></li>")
    lines.append("</ul>" * (2 if open_sub else 1) + "</nav>")
    return body, "".join(lines)


def write(store: Store, output: Path, suite: str | None = None) -> Path:
    """Write the report to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(store, suite), encoding="utf-8")
    return output
