"""Output for people and programs: JSON round-trips, terminal-width tables, full run ids, exits."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from harbench.cli import main
from harbench.commands.results import print_leaderboard
from harbench.report import build
from harbench.store import Store
from tests.report_store import demo_store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_store(tmp_path_factory)


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_leaderboard_json_round_trips(demo, capsys):
    data = _json(capsys, ["leaderboard", "--db", str(demo), "--suite", "demo", "--format", "json",
                          "--ci", "--against", "full"])
    with Store(demo, read_only=True) as store:
        board = build(store, suite="demo", ci=True, against="full")
    assert data["columns"] == board.columns and len(data["rows"]) == len(board.rows)
    for got, want in zip(data["rows"], board.rows):
        assert set(got) == set(board.columns)
        for column in board.columns:
            assert got[column] == pytest.approx(want[column]) if isinstance(
                want[column], float) else got[column] == want[column]
    assert any("Wilcoxon" in note for note in data["notes"])


def test_piped_leaderboard_keeps_full_names(demo, capsys):
    assert main(["leaderboard", "--db", str(demo), "--suite", "demo"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "linear_probe" in x and "hapt_embedded" in x)
    assert "40,000" in out and "…" not in out and "1,234,567" in line


def test_leaderboard_fits_an_80_column_terminal_without_cutting_numbers(demo):
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80, color_system=None)
    print_leaderboard(console, db=str(demo), suite="demo")
    text = buffer.getvalue()
    assert all(len(line) <= 80 for line in text.splitlines())
    with Store(demo, read_only=True) as store:
        board = build(store, suite="demo")
    for row in board.rows:
        assert f"{row['macro_f1']:.3f} ± {row['std']:.3f}" in text
    assert "…" not in text and "columns left out" in text


def test_unknown_suite_exits_2_with_did_you_mean(demo, capsys):
    assert main(["leaderboard", "--db", str(demo), "--suite", "dem"]) == 2
    assert "did you mean 'demo'" in capsys.readouterr().err


def test_show_accepts_a_unique_prefix_and_refuses_an_ambiguous_one(demo, capsys):
    with Store(demo, read_only=True) as store:
        ids = [r[0] for r in store.query("SELECT run_id FROM runs")[1]]
    record = _json(capsys, ["show", ids[0][:8], "--db", str(demo), "--format", "json"])
    assert record["run_id"] == ids[0] and len(ids[0]) == 20
    assert record["metrics"]["macro_f1"] > 0 and record["suites"] == ["demo"]
    assert {row["stage"] for row in record["curves"]} == {"train", "pretrain"}
    common = Counter(i[0] for i in ids).most_common(1)[0][0]
    assert main(["show", common, "--db", str(demo)]) == 2
    assert "ambiguous" in capsys.readouterr().err
    assert main(["show", "ffffffffffffff", "--db", str(demo)]) == 2


def test_query_shows_full_run_ids(demo, capsys):
    assert main(["query", "SELECT run_id, dataset FROM runs ORDER BY run_id LIMIT 3",
                 "--db", str(demo)]) == 0
    out = capsys.readouterr().out
    with Store(demo, read_only=True) as store:
        ids = [r[0] for r in store.query("SELECT run_id FROM runs ORDER BY run_id LIMIT 3")[1]]
    assert all(i in out for i in ids)
    rows = _json(capsys, ["query", "SELECT run_id FROM runs ORDER BY run_id LIMIT 3",
                          "--db", str(demo), "--format", "json"])
    assert [r["run_id"] for r in rows] == ids


def test_markdown_export_formats_counts_one_way(demo, tmp_path, capsys):
    out = tmp_path / "board.md"
    assert main(["export", "--format", "markdown", "-o", str(out), "--db", str(demo),
                 "--suite", "demo"]) == 0
    text = out.read_text()
    assert "| 171 |" in text and "| 5,251 |" in text and "171.0" not in text


def test_plugins_and_models_json(capsys):
    data = _json(capsys, ["plugins", "--format", "json"])
    kinds = {k for p in data["plugins"] for k in p["registers"]}
    assert {"datasets", "models", "methods"} <= kinds
    models = _json(capsys, ["models", "--format", "json"])
    assert any(m["model"] == "tinierhar" for m in models)


def test_data_list_json(capsys):
    data = _json(capsys, ["data", "list", "--format", "json"])
    names = {d["name"] for d in data["datasets"]}
    assert "hapt_embedded" in names
    assert all(isinstance(d["classes"], list) for d in data["datasets"])


def test_validate_json_has_full_run_ids(capsys):
    data = _json(capsys, ["validate", str(REPO / "suites" / "smoke.yaml"), "--format", "json"])
    assert data["runs"] and all(len(r["run_id"]) == 20 for r in data["runs"])


def test_plot_and_report_commands_write_files(demo, tmp_path, capsys):
    assert main(["plot", "pareto", "--db", str(demo), "--suite", "demo",
                 "-o", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "p.svg").exists()
    report = tmp_path / "r.html"
    assert main(["report", "--db", str(demo), "--suite", "demo", "-o", str(report)]) == 0
    html = report.read_text()
    assert html.count("data:image/svg+xml;base64,") >= 5
    assert "compare: {reference: full, fraction: 0.95}" in html  # the stored suite YAML
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    repro = tmp_path / "REPRODUCTION.md"
    assert main(["report", "repro", "--db", str(demo), "--output", str(repro)]) == 0
    assert "no reproduction suite" in repro.read_text()


def test_a_terminal_too_narrow_for_any_table_gets_one_block_per_row(demo):
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=30, color_system=None)
    print_leaderboard(console, db=str(demo), suite="demo")
    text = buffer.getvalue()
    assert all(len(line) <= 30 for line in text.splitlines())
    assert "┃" not in text  # no table: one block per row
    with Store(demo, read_only=True) as store:
        board = build(store, suite="demo")
    for row in board.rows:
        assert re.search(rf"macro_f1 +{row['macro_f1']:.3f} ± {row['std']:.3f}\n", text)


def test_report_repro_json_lists_claim_rows(tmp_path, capsys):
    from tests.test_report import _write

    db = tmp_path / "r.duckdb"
    _write(db, [(m, {}, 0.8, True, None, f, 0, model) for model in ("tinierhar", "tinyhar")
                for m in ("full",) for f in (0, 1)], suite="repro-tinierhar-x")
    rows = _json(capsys, ["report", "repro", "--db", str(db), "--format", "json"])
    claims = {r["claim"] for r in rows}
    assert "parameters TinyHAR / TinierHAR" in claims
    assert all(r["suite"] == "repro-tinierhar-x" and r["device"] == "cpu" for r in rows)
