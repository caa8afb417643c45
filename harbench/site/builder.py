"""Write the static site: index (every suite), a page per suite, dataset, method and run.

Every link is relative and every file is local (figures as PNG/SVG files beside their data as
CSV, one stylesheet, one script), so the folder works from disk or any static host.
"""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.site.assets import CSS, JS
from harbench.store import Store

RUN_METRICS = ("macro_f1", "accuracy", "trainable_params", "fit_seconds", "onnx_latency_ms")


def slug(name: str) -> str:
    """A file-name-safe form of a suite, dataset or method name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(name)) or "_"


def _cell(value: Any, href: str | None = None) -> str:
    text = "" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
    inner = html.escape(text)
    if href:
        inner = f"<a href='{html.escape(href)}'>{inner}</a>"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"<td class='num'>{inner}</td>" if numeric else f"<td>{inner}</td>"


def table(headers: list[str], rows: list[list[tuple[Any, str | None]]]) -> str:
    """A sortable table; each cell is (value, link or None)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v, h) for v, h in row) + "</tr>" for row in rows)
    return f"<table class='sortable'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Site:
    """The pages of one store, written under ``root``."""

    def __init__(self, store: Store, root: Path):
        self.store, self.root = store, root
        self.written: list[Path] = []
        self.runs = self._runs()

    # ---- reading ------------------------------------------------------------------------------

    def _runs(self) -> list[dict[str, Any]]:
        columns, rows = self.store.query(
            "SELECT run_id, dataset, model_label, method, method_label, protocol, fold, seed, "
            "status, config FROM runs ORDER BY dataset, model_label, method_label, fold, seed")
        runs = [dict(zip(columns, r)) for r in rows]
        metrics: dict[str, dict[str, float]] = {}
        for run_id, name, value in self.store.query("SELECT run_id, name, value FROM metrics")[1]:
            metrics.setdefault(run_id, {})[name] = value
        suites: dict[str, list[str]] = {}
        for suite, run_id in self.store.query("SELECT suite, run_id FROM suite_runs")[1]:
            suites.setdefault(run_id, []).append(suite)
        for run in runs:
            run["metrics"] = metrics.get(run["run_id"], {})
            run["suites"] = sorted(suites.get(run["run_id"], []))
        return runs

    # ---- writing ------------------------------------------------------------------------------

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.written.append(path)

    def page(self, relative: str, title: str, body: str) -> None:
        up = "../" * relative.count("/")
        nav = (f"<nav><a href='{up}index.html'>index</a><a href='{up}datasets.html'>datasets</a>"
               f"<a href='{up}methods.html'>methods</a></nav>")
        self.write(relative, "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                   f"<title>{html.escape(title)}</title>"
                   f"<link rel='stylesheet' href='{up}assets/site.css'>"
                   f"<script src='{up}assets/site.js'></script></head><body>{nav}"
                   f"<h1>{html.escape(title)}</h1>{body}</body></html>\n")

    def csv(self, relative: str, headers: list[str], rows: list[list[Any]]) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            writer.writerows(rows)
        self.written.append(path)

    def run_rows(self, runs: list[dict[str, Any]], up: str) -> str:
        headers = ["dataset", "model", "method", "fold", "seed", "status", *RUN_METRICS, "run"]
        rows = [[(r["dataset"], f"{up}datasets/{slug(r['dataset'])}.html"),
                 (r["model_label"], None),
                 (r["method_label"], f"{up}methods/{slug(r['method'])}.html"),
                 (r["fold"], None), (r["seed"], None), (r["status"], None),
                 *[(r["metrics"].get(m), None) for m in RUN_METRICS],
                 (r["run_id"][:10], f"{up}runs/{r['run_id']}.html")] for r in runs]
        return table(headers, rows)

    def runs_csv(self, relative: str, runs: list[dict[str, Any]]) -> None:
        names = sorted({k for r in runs for k in r["metrics"]})
        self.csv(relative, ["run_id", "dataset", "model", "method", "fold", "seed", "status",
                            *names],
                 [[r["run_id"], r["dataset"], r["model_label"], r["method_label"], r["fold"],
                   r["seed"], r["status"], *[r["metrics"].get(n) for n in names]] for r in runs])

    def leaderboard(self, suite: str | None, keep: Any = None) -> str:
        """Mean ± std per configuration (the leaderboard of ``report.build``), sortable."""
        from harbench.report.exports import cell_texts, display_names
        from harbench.report.formatting import SHORT_HEADERS
        from harbench.report.leaderboard import build

        board = build(self.store, suite=suite)
        rows = [r for r in board.rows if keep is None or keep(r)]
        if not rows:
            return "<p class='note'>no ok run stored</p>"
        shown = display_names(board.columns, board.metric)
        headers = [SHORT_HEADERS.get(c, c) for c in shown]
        texts = [cell_texts(board.columns, [r.get(c) for c in board.columns], board.metric)
                 for r in rows]
        body = "".join("<tr>" + "".join(
            f"<td class='num'>{html.escape(t)}</td>" if c not in (*board.groups, "config")
            else f"<td>{html.escape(t)}</td>" for c, t in zip(board.columns, row)) + "</tr>"
            for row in texts)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in board.notes)
        return (f"<p class='note'>{html.escape(board.metric)}: mean ± std over units "
                "(dataset × fold, seeds averaged first)"
                f"</p><table class='sortable'><thead><tr>{head}</tr></thead><tbody>{body}"
                f"</tbody></table>{notes}")

    def figures(self, suite: str) -> str:
        from harbench.report import plots
        from harbench.report.html import FIGURES

        parts = []
        for i, (kind, options, caption) in enumerate(FIGURES):
            try:
                figure = plots.figure(kind, self.store, suite, **options)
            except HarbenchError as exc:
                parts.append(f"<p class='note'>{html.escape(caption)}: not drawn "
                             f"({html.escape(str(exc))})</p>")
                continue
            name = f"figures/{slug(suite)}-{i}-{kind}.png"
            (self.root / "figures").mkdir(parents=True, exist_ok=True)
            figure.savefig(self.root / name, format="png", dpi=90, bbox_inches="tight")
            plots.pyplot().close(figure)
            self.written.append(self.root / name)
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='../{name}'>"
                         f"<figcaption>{html.escape(caption)} · data: <a href='../data/"
                         f"{slug(suite)}-runs.csv'>per-run values (CSV)</a></figcaption>"
                         "</figure>")
        return "".join(parts)

    # ---- pages --------------------------------------------------------------------------------

    def suite_page(self, suite: str) -> None:
        from harbench.report.suites import suite_yaml

        runs = [r for r in self.runs if suite in r["suites"]]
        self.runs_csv(f"data/{slug(suite)}-runs.csv", runs)
        yaml_text = suite_yaml(self.store, suite) or ""
        body = ("<h2>Leaderboard</h2>" + self.leaderboard(suite) + "<h2>Figures</h2>"
                + self.figures(suite) + f"<h2>Runs ({len(runs)})</h2>"
                + self.run_rows(runs, "../")
                + (f"<h2>Suite file</h2><pre>{html.escape(yaml_text)}</pre>" if yaml_text else ""))
        self.page(f"suites/{slug(suite)}.html", f"suite {suite}", body)

    def group_page(self, kind: str, name: str, runs: list[dict[str, Any]], keep: Any) -> None:
        self.runs_csv(f"data/{kind}-{slug(name)}-runs.csv", runs)
        body = ("<h2>Leaderboard over every suite</h2>" + self.leaderboard(None, keep)
                + f"<h2>Runs ({len(runs)})</h2><p class='note'>data: <a href='../data/{kind}-"
                f"{slug(name)}-runs.csv'>CSV</a></p>" + self.run_rows(runs, "../"))
        self.page(f"{kind}/{slug(name)}.html", f"{kind[:-1]} {name}", body)

    def run_page(self, run: dict[str, Any]) -> None:
        from harbench.report.runs import load_curves
        from harbench.site.curves import curves_svg

        run_id = run["run_id"]
        curves = load_curves(self.store, [run_id]).get(run_id, [])
        keys = ["stage", "epoch", "train_loss", "val_loss", "val_f1", "lr", "seconds"]
        self.csv(f"data/runs/{run_id}-curves.csv", keys, [[c.get(k) for k in keys]
                                                          for c in curves])
        figure = ""
        if curves:
            self.write(f"runs/{run_id}-curves.svg", curves_svg(curves))
            figure = (f"<figure><img alt='learning curves' src='{run_id}-curves.svg'>"
                      f"<figcaption>validation macro-F1 and training loss per epoch · data: "
                      f"<a href='../data/runs/{run_id}-curves.csv'>CSV</a></figcaption></figure>")
        config = json.dumps(json.loads(run["config"] or "{}"), indent=2, sort_keys=True)
        metrics = table(["metric", "value"], [[(k, None), (v, None)]
                                               for k, v in sorted(run["metrics"].items())])
        suites = ", ".join(f"<a href='../suites/{slug(s)}.html'>{html.escape(s)}</a>"
                           for s in run["suites"]) or "-"
        body = (f"<p>{html.escape(run['dataset'])} · {html.escape(run['model_label'])} · "
                f"<a href='../methods/{slug(run['method'])}.html'>"
                f"{html.escape(run['method_label'])}</a> · fold {run['fold']} · seed "
                f"{run['seed']} · {html.escape(run['status'])} · suites {suites}</p>"
                f"<h2>Curves</h2>{figure or '<p class=note>no curves stored</p>'}"
                f"<h2>Metrics</h2>{metrics}<h2>Config</h2><pre>{html.escape(config)}</pre>")
        self.page(f"runs/{run_id}.html", f"run {run_id}", body)

    def index(self, suites: list[str]) -> None:
        counts = {s: sum(s in r["suites"] for r in self.runs) for s in suites}
        rows = [[(s, f"suites/{slug(s)}.html"), (counts[s], None)] for s in suites]
        body = ("<h2>Suites</h2>" + table(["suite", "runs"], rows)
                + f"<p>{len(self.runs)} runs stored · <a href='datasets.html'>datasets</a> · "
                "<a href='methods.html'>methods</a></p>")
        self.page("index.html", "harbench results", body)


def build(store: Store, output: str | Path) -> list[Path]:
    """Write the site of ``store`` into ``output``; returns the files written."""
    from harbench.report.suites import suite_names

    site = Site(store, Path(output))
    site.write("assets/site.css", CSS)
    site.write("assets/site.js", JS)
    suites = suite_names(store)
    for suite in suites:
        site.suite_page(suite)
    datasets = sorted({r["dataset"] for r in site.runs})
    methods = sorted({r["method"] for r in site.runs})
    for name in datasets:
        site.group_page("datasets", name, [r for r in site.runs if r["dataset"] == name],
                        lambda row, name=name: row.get("dataset") == name)
    for name in methods:
        labels = {r["method_label"] for r in site.runs if r["method"] == name}
        site.group_page("methods", name, [r for r in site.runs if r["method"] == name],
                        lambda row, labels=labels: row.get("method") in labels)
    site.page("datasets.html", "datasets", table(
        ["dataset", "runs"], [[(d, f"datasets/{slug(d)}.html"),
                               (sum(r["dataset"] == d for r in site.runs), None)]
                              for d in datasets]))
    site.page("methods.html", "methods", table(
        ["method", "runs"], [[(m, f"methods/{slug(m)}.html"),
                              (sum(r["method"] == m for r in site.runs), None)] for m in methods]))
    for run in site.runs:
        site.run_page(run)
    site.index(suites)
    return site.written
