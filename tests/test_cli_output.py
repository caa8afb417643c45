"""Output for people and programs: JSON round-trips, terminal-width tables, full run ids, exits."""

from __future__ import annotations

import io
import json
import re
import shlex
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


# ---- tables that fit or print whole, query/export formats, show, did-you-mean, help ----------

PIPED_SUITE = """name: piped
defaults:
  training: {epochs: 1, batch_size: 32, patience: 1}
matrix:
  datasets: [synthetic]
  models: [{tinierhar: {filters: 4, hidden: 8}}]
  methods: [full, {lora: {r: [4]}}]
  seeds: [0]
  folds: [0]
"""


def _piped(commands: list[str], tmp_path) -> list[str]:
    """`harbench ARGS | cat` for each ARGS, at once, in a shell with a narrow COLUMNS: what a
    script reads."""
    import subprocess
    import sys

    from tests.helpers import harbench_env

    started = [subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", f"{shlex.quote(sys.executable)} -m harbench {a} | cat"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=harbench_env(COLUMNS="40"), cwd=tmp_path) for a in commands]
    outs = []
    for process in started:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outs.append(out)
    return outs


def test_piped_run_plugins_and_models_never_break_a_name(tmp_path, capsys):
    suite = tmp_path / "piped.yaml"
    suite.write_text(PIPED_SUITE)
    ids = [r["run_id"] for r in _json(capsys, ["validate", str(suite), "--format", "json"])["runs"]]
    registered = _json(capsys, ["plugins", "--format", "json"])["plugins"]
    db = tmp_path / "piped.duckdb"
    out, plugins_out, models_out = _piped(
        [f"run {suite} --db {db}", "plugins", "models --count --model tinierhar --model "
         "deepconvlstm --dataset motionsense --dataset hapt_embedded"], tmp_path)
    lines = out.splitlines()
    for label in ("tinierhar(hidden=8)", "lora(r=4)"):
        assert any(label in line for line in lines), out
    # each progress line whole: position, status, run label and score on one line
    assert len([x for x in lines if re.search(r"^\[\d/2\] ok +synthetic tinierhar\(hidden=8\) "
                                              r"\S+ fold 0 seed 0 +macro-F1 \d\.\d{3}$", x)]) == 2
    assert any(re.search(r"│ \d\.\d{3} ± \d\.\d{3} │", line) for line in lines)  # leaderboard
    assert main(["run", str(suite), "--db", str(db), "--dry-run"]) == 0  # captured: piped
    dry = capsys.readouterr().out.splitlines()
    assert all(any(i in line and "tinierhar(hidden=8)" in line for line in dry) for i in ids)

    for reg in registered:
        for kind, names in reg["registers"].items():
            whole = f"{kind}: {', '.join(names)}"
            assert any(whole in line and reg["plugin"] in line
                       for line in plugins_out.splitlines()), whole

    header = next(line for line in models_out.splitlines() if "C x T -> K" in line)
    assert "tinierhar" in header and "deepconvlstm" in header
    for dataset in ("motionsense", "hapt_embedded (demo)"):
        row = next(line for line in models_out.splitlines() if dataset in line)
        assert len(re.findall(r"\d[\d.]*[kMG]? / \d[\d.]*[kMG]?", row)) == 2, row


def test_validate_fits_an_80_column_terminal_with_every_run_id_whole(capsys):
    import argparse

    from harbench.commands.run import _print_runs

    suite = str(REPO / "suites" / "peft.yaml")
    ids = [r["run_id"] for r in _json(capsys, ["validate", suite, "--format", "json"])["runs"]]
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80, color_system=None)
    _print_runs(console, argparse.Namespace(suite=suite, db=None, format="table"))
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    lines = text.splitlines()
    assert all(any(i in line for line in lines) for i in ids)
    assert "dataset pamap2, protocol loso" in text  # one table per dataset and protocol


def test_query_is_a_table_on_a_terminal_and_tsv_csv_or_json_for_programs(demo, capsys,
                                                                           monkeypatch):
    import csv

    from harbench.report import terminal

    sql = "SELECT run_id, method_label, fold FROM runs ORDER BY run_id LIMIT 3"
    with Store(demo, read_only=True) as store:
        expected = store.query(sql)[1]
    assert main(["query", sql, "--db", str(demo)]) == 0  # captured: not a terminal
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "run_id\tmethod_label\tfold"
    assert [tuple(line.split("\t")) for line in lines[1:]] == [
        (i, m, str(f)) for i, m, f in expected]
    assert main(["query", sql, "--db", str(demo), "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["run_id", "method_label", "fold"] and len(rows) == 4
    assert [r["fold"] for r in _json(capsys, ["query", sql, "--db", str(demo), "--format",
                                              "json"])] == [f for _, _, f in expected]
    buffer = io.StringIO()
    monkeypatch.setattr(terminal, "console", lambda **_: Console(
        file=buffer, force_terminal=True, width=120, color_system=None))
    assert main(["query", sql, "--db", str(demo)]) == 0
    assert "┃ run_id" in buffer.getvalue() and expected[0][0] in buffer.getvalue()


def test_tsv_escapes_tabs_newlines_and_backslashes():
    from harbench.report.exports import delimited

    text = delimited(["a", "b"], [("x\ty", "line1\nline2\\"), (None, 1.5)], "tsv")
    assert text == "a\tb\nx\\ty\tline1\\nline2\\\\\n\t1.5\n"


def test_export_has_one_column_per_config_key_and_jsonl(demo, tmp_path):
    import csv

    import duckdb

    out = tmp_path / "runs.csv"
    assert main(["export", "--db", str(demo), "--suite", "demo", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 60 and {"method_params.r", "training.lr", "protocol.name",
                                "macro_f1", "run_id"} <= set(rows[0])
    by_label = {(r["method_label"], r["method_params.r"]) for r in rows}
    assert ("lora(r=8)", "8") in by_label and ("lora(r=2)", "2") in by_label
    assert ("full", "") in by_label  # not a key of full's configuration
    assert list(rows[0]).index("method_params.r") < list(rows[0]).index("macro_f1")

    lines = tmp_path / "runs.jsonl"
    assert main(["export", "--db", str(demo), "--format", "jsonl", "-o", str(lines)]) == 0
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(records) == 60
    lora8 = [r for r in records if r["method_label"] == "lora(r=8)"]
    assert lora8 and all(r["method_params.r"] == 8 and isinstance(r["macro_f1"], float)
                         for r in lora8)

    parquet = tmp_path / "runs.parquet"
    assert main(["export", "--db", str(demo), "--format", "parquet", "-o", str(parquet)]) == 0
    with duckdb.connect() as con:
        got = con.execute(f"SELECT count(*), max(\"method_params.r\"), avg(macro_f1) "
                          f"FROM '{parquet}'").fetchone()
    assert got[0] == 60 and got[1] == 8 and 0 < got[2] < 1


def test_show_prints_every_stored_detail(tmp_path, capsys):
    from tests.report_store import result_for, spec_for

    spec = spec_for("pamap2", "lora", {"r": 8}, 0, 0,
                    pretrain={"objective": "mae", "epochs": 4})
    result = result_for(spec, 0.8, 5_251, 1.0, True, __import__("random").Random(1))
    result.details.update({"test_subjects": [101, 102], "val_subjects": [103],
                           "pretrain_subjects": [104, 105, 106], "bn_policy": "update",
                           "fold": "0:101,102"})
    db = tmp_path / "show.duckdb"
    with Store(db) as store:
        store.write(result, labels={"model": "tinierhar", "method": "lora(r=8)"})
        store.link_suite("one", [spec.run_id])
    assert main(["show", spec.run_id[:10], "--db", str(db)]) == 0
    out = capsys.readouterr().out
    for expected in ("test_subjects", "101, 102", "val_subjects", "pretrain_subjects",
                     "104, 105, 106", "bn_policy", "method_params.r", "training.lr",
                     "host", "python_version", "suites", "one", "walk", "support"):
        assert expected in out, expected
    assert re.search(r"│ pretrain +│ +4 │", out)  # the pretraining curve, epoch by epoch
    record = _json(capsys, ["show", spec.run_id, "--db", str(db), "--format", "json"])
    assert record["details"]["pretrain_subjects"] == [104, 105, 106]
    assert record["details"]["classes"][0] == "walk" and record["host"] == "test"


def test_typos_get_a_suggestion_in_the_right_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["leaderbord"])
    assert exit_.value.code == 2
    assert "did you mean 'leaderboard'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["leaderboard", "--metrc", "macro_f1"])
    err = capsys.readouterr().err
    assert err.startswith("usage: harbench leaderboard") and "did you mean --metric?" in err
    with pytest.raises(SystemExit):
        main(["data", "verify", "synthetic", "--alow-partial"])
    assert "did you mean --allow-partial?" in capsys.readouterr().err
    assert main(["models", "--count", "--dataset", "pamap"]) == 2
    assert "Did you mean 'pamap2'" in capsys.readouterr().err


def test_plot_names_the_stored_dataset_method_or_metric_a_typo_meant(demo, tmp_path, capsys):
    for option, typo, meant in (("--dataset", "pamap", "pamap2"), ("--method", "lora(r=9)",
                                "lora(r=8)"), ("--metric", "macro_f", "macro_f1")):
        assert main(["plot", "pareto", "--db", str(demo), option, typo,
                     "-o", str(tmp_path / "p")]) == 2
        assert f"did you mean {meant!r}?" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_every_option_has_help_and_every_command_an_example():
    from harbench.cli import build_parser
    from harbench.commands.helptext import commands

    parser = build_parser()
    found = commands(parser)
    assert {"run", "validate", "query", "export", "show", "data verify"} <= set(found)
    for key, sub in found.items():
        assert sub.epilog and f"harbench {key}" in sub.epilog, key
        assert f"harbench {key}" in sub.format_help(), key
        missing = [a.dest for a in sub._actions if not a.help]
        assert not missing, (key, missing)
        for line in sub.epilog.splitlines()[1:]:  # every example parses
            words = shlex.split(line.split(" | ")[0].split(" > ")[0])
            assert words[0] == "harbench" and parser.parse_args(words[1:]).handler, line


def test_piped_titles_and_facts_are_single_lines(capsys):
    assert main(["data", "info", "synthetic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "synthetic: Synthetic sinusoids (deterministic, for tests)"
    assert any(re.search(r"│ protocol +│ name=subject_groups, groups=3 +│", x) for x in lines)
